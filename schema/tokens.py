"""The token registry: the tokens the engine trades, with their mint addresses and decimals.

Amounts of a token never carry more fractional digits than its `decimals`.
"""

from __future__ import annotations

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


def get_token(symbol: str) -> Token:
    try:
        return TOKENS[symbol]
    except KeyError:
        raise UnknownTokenError(symbol) from None
