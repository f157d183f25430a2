"""The fast transport (``pip install provider[fast]``): HTTP/1.1 on asyncio protocols, with
httptools (llhttp) parsing the responses. ``connection`` is one connection, ``pool`` keeps them
within httpx's ``Limits``, ``transport`` is the ``httpx.AsyncBaseTransport`` over both."""

from .transport import FastTransport

__all__ = ["FastTransport"]
