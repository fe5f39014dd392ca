"""The token registry: the tokens the engine trades, with their mint addresses and decimals.

Amounts of a token never carry more fractional digits than its `decimals`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Token:
    symbol: str
    mint: str
    decimals: int

    @property
    def quantum(self) -> Decimal:
        """The smallest representable amount, e.g. 0.000001 for six decimals."""
        return Decimal(1).scaleb(-self.decimals)


class UnknownTokenError(KeyError):
    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.symbol = symbol

    def __str__(self) -> str:
        return f"unknown token {self.symbol!r}; known tokens: {', '.join(TOKENS)}"


TOKENS: dict[str, Token] = {
    token.symbol: token
    for token in (
        Token("SOL", "So11111111111111111111111111111111111111112", 9),
        Token("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6),
        Token("USDT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", 6),
        Token("BONK", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", 5),
        Token("JUP", "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN", 6),
        Token("RAY", "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R", 6),
    )
}

NATIVE_SOL = "SOL"

# A token's symbol: what a sniper order may name before the token is listed, and what a pool launch
# may list. Listed tokens have at most as many decimals as SOL.
SYMBOL = re.compile(r"[A-Z0-9]{2,10}", re.ASCII)
SYMBOL_PATTERN = "^[A-Za-z0-9]{2,10}$"
MAX_DECIMALS = 9

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(_BASE58[remainder])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def launched_mint(symbol: str) -> str:
    """The mint address a token listed by a pool launch gets: fixed by its symbol."""
    return base58(hashlib.sha256(f"oee:mint:{symbol}".encode()).digest())


def list_token(token: Token) -> bool:
    """Add a token to this process's registry (a pool launch listed it); False if it was known."""
    if token.symbol in TOKENS:
        return False
    TOKENS[token.symbol] = token
    return True


def get_token(symbol: str) -> Token:
    try:
        return TOKENS[symbol]
    except KeyError:
        raise UnknownTokenError(symbol) from None
