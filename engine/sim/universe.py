"""The simulated market's instruments: ~60 liquid US stocks over 11 sectors, SPY, and the
SPX, XSP, VIX and VIX3M indexes. Contract ids are deterministic (real IBKR ids where known,
otherwise derived from the symbol)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class SymbolSpec:
    """One underlying. `sector` is IBKR's ContractDetails.category, `industry` its industry."""

    symbol: str
    con_id: int
    sec_type: str = "STK"
    exchange: str = "SMART"
    primary_exchange: str = "NYSE"
    currency: str = "USD"
    sector: str = "Unknown"
    industry: str = ""
    long_name: str = ""
    base_price: float = 100.0
    vol: float = 0.30
    div_yield: float = 0.0
    multiplier: int = 100
    avg_volume: int = 5_000_000
    beta: float = 1.0

    @property
    def is_index(self) -> bool:
        return self.sec_type == "IND"


KNOWN_CON_IDS: dict[str, int] = {
    "AAPL": 265598,
    "MSFT": 272093,
    "AMZN": 3691937,
    "NVDA": 4815747,
    "TSLA": 76792991,
    "META": 107113386,
    "GOOGL": 208813719,
    "JPM": 1520593,
    "XOM": 13977,
    "KO": 8894,
    "INTC": 270639,
    "IBM": 8314,
    "SPY": 756733,
    "SPX": 416904,
    "VIX": 13455763,
}


def con_id_for(symbol: str) -> int:
    """Real IBKR conId where known, else a stable id in 700,000,000..799,999,999."""
    if symbol in KNOWN_CON_IDS:
        return KNOWN_CON_IDS[symbol]
    return 700_000_000 + zlib.crc32(symbol.encode()) % 100_000_000


_T = "Technology"
_F = "Financial"
_H = "Healthcare"
_E = "Energy"
_CD = "Consumer, Cyclical"
_CS = "Consumer, Non-cyclical"
_I = "Industrial"
_C = "Communications"
_U = "Utilities"
_M = "Basic Materials"
_RE = "Real Estate"

# symbol, primary, sector, industry, long name, price, vol, dividend yield, avg volume, beta
_STOCKS: tuple[tuple[str, str, str, str, str, float, float, float, int, float], ...] = (
    ("AAPL", "NASDAQ", _T, "Computers", "APPLE INC", 228.0, 0.26, 0.004, 55_000_000, 1.1),
    ("MSFT", "NASDAQ", _T, "Software", "MICROSOFT CORP", 425.0, 0.24, 0.007, 22_000_000, 1.0),
    ("NVDA", "NASDAQ", _T, "Semiconductors", "NVIDIA CORP", 142.0, 0.48, 0.0003, 250_000_000, 1.7),
    (
        "AMD",
        "NASDAQ",
        _T,
        "Semiconductors",
        "ADVANCED MICRO DEVICES",
        152.0,
        0.50,
        0.0,
        45_000_000,
        1.6,
    ),
    ("INTC", "NASDAQ", _T, "Semiconductors", "INTEL CORP", 24.5, 0.45, 0.0, 70_000_000, 1.2),
    ("AVGO", "NASDAQ", _T, "Semiconductors", "BROADCOM INC", 178.0, 0.45, 0.012, 28_000_000, 1.4),
    ("ORCL", "NYSE", _T, "Software", "ORACLE CORP", 182.0, 0.38, 0.009, 10_000_000, 1.2),
    ("CRM", "NYSE", _T, "Software", "SALESFORCE INC", 318.0, 0.34, 0.005, 7_000_000, 1.2),
    ("ADBE", "NASDAQ", _T, "Software", "ADOBE INC", 512.0, 0.33, 0.0, 3_500_000, 1.2),
    (
        "CSCO",
        "NASDAQ",
        _T,
        "Telecommunications",
        "CISCO SYSTEMS INC",
        58.0,
        0.22,
        0.028,
        20_000_000,
        0.9,
    ),
    ("QCOM", "NASDAQ", _T, "Semiconductors", "QUALCOMM INC", 162.0, 0.36, 0.021, 8_000_000, 1.3),
    (
        "MU",
        "NASDAQ",
        _T,
        "Semiconductors",
        "MICRON TECHNOLOGY INC",
        98.0,
        0.52,
        0.005,
        22_000_000,
        1.5,
    ),
    (
        "IBM",
        "NYSE",
        _T,
        "Computers",
        "INTL BUSINESS MACHINES CORP",
        215.0,
        0.25,
        0.031,
        4_500_000,
        0.8,
    ),
    ("JPM", "NYSE", _F, "Banks", "JPMORGAN CHASE & CO", 238.0, 0.23, 0.021, 9_000_000, 1.1),
    ("BAC", "NYSE", _F, "Banks", "BANK OF AMERICA CORP", 44.5, 0.26, 0.023, 35_000_000, 1.2),
    ("WFC", "NYSE", _F, "Banks", "WELLS FARGO & CO", 72.0, 0.27, 0.022, 15_000_000, 1.1),
    ("GS", "NYSE", _F, "Banks", "GOLDMAN SACHS GROUP INC", 585.0, 0.28, 0.020, 2_200_000, 1.3),
    ("C", "NYSE", _F, "Banks", "CITIGROUP INC", 68.0, 0.29, 0.033, 14_000_000, 1.3),
    (
        "V",
        "NYSE",
        _F,
        "Diversified Finan Serv",
        "VISA INC-CLASS A SHARES",
        312.0,
        0.20,
        0.007,
        6_500_000,
        0.9,
    ),
    (
        "MA",
        "NYSE",
        _F,
        "Diversified Finan Serv",
        "MASTERCARD INC - A",
        520.0,
        0.21,
        0.005,
        2_800_000,
        1.0,
    ),
    (
        "SCHW",
        "NYSE",
        _F,
        "Diversified Finan Serv",
        "SCHWAB (CHARLES) CORP",
        80.0,
        0.30,
        0.013,
        8_000_000,
        1.1,
    ),
    (
        "UNH",
        "NYSE",
        _H,
        "Healthcare-Services",
        "UNITEDHEALTH GROUP INC",
        305.0,
        0.38,
        0.027,
        9_000_000,
        0.7,
    ),
    ("JNJ", "NYSE", _H, "Pharmaceuticals", "JOHNSON & JOHNSON", 155.0, 0.17, 0.032, 7_000_000, 0.5),
    ("PFE", "NYSE", _H, "Pharmaceuticals", "PFIZER INC", 25.5, 0.25, 0.067, 40_000_000, 0.6),
    ("MRK", "NYSE", _H, "Pharmaceuticals", "MERCK & CO. INC.", 99.0, 0.24, 0.032, 10_000_000, 0.5),
    ("ABBV", "NYSE", _H, "Pharmaceuticals", "ABBVIE INC", 178.0, 0.25, 0.036, 6_000_000, 0.6),
    ("LLY", "NYSE", _H, "Pharmaceuticals", "ELI LILLY & CO", 780.0, 0.34, 0.007, 3_500_000, 0.7),
    ("CVS", "NYSE", _H, "Pharmaceuticals", "CVS HEALTH CORP", 56.0, 0.33, 0.047, 9_000_000, 0.7),
    ("XOM", "NYSE", _E, "Oil&Gas", "EXXON MOBIL CORP", 118.0, 0.24, 0.033, 15_000_000, 0.9),
    ("CVX", "NYSE", _E, "Oil&Gas", "CHEVRON CORP", 155.0, 0.24, 0.042, 8_000_000, 0.9),
    ("OXY", "NYSE", _E, "Oil&Gas", "OCCIDENTAL PETROLEUM CORP", 50.5, 0.33, 0.017, 10_000_000, 1.1),
    ("SLB", "NYSE", _E, "Oil&Gas Services", "SCHLUMBERGER LTD", 42.0, 0.33, 0.026, 12_000_000, 1.2),
    ("COP", "NYSE", _E, "Oil&Gas", "CONOCOPHILLIPS", 108.0, 0.28, 0.029, 7_000_000, 1.0),
    ("AMZN", "NASDAQ", _CD, "Internet", "AMAZON.COM INC", 205.0, 0.32, 0.0, 40_000_000, 1.2),
    ("TSLA", "NASDAQ", _CD, "Auto Manufacturers", "TESLA INC", 345.0, 0.60, 0.0, 95_000_000, 2.0),
    ("HD", "NYSE", _CD, "Retail", "HOME DEPOT INC", 410.0, 0.22, 0.022, 3_500_000, 1.0),
    ("MCD", "NYSE", _CD, "Retail", "MCDONALD'S CORP", 292.0, 0.18, 0.024, 3_200_000, 0.6),
    ("NKE", "NYSE", _CD, "Apparel", "NIKE INC -CL B", 77.0, 0.33, 0.020, 11_000_000, 1.0),
    ("SBUX", "NASDAQ", _CD, "Retail", "STARBUCKS CORP", 101.0, 0.30, 0.024, 9_000_000, 0.9),
    ("F", "NYSE", _CD, "Auto Manufacturers", "FORD MOTOR CO", 11.2, 0.36, 0.054, 60_000_000, 1.3),
    (
        "GM",
        "NYSE",
        _CD,
        "Auto Manufacturers",
        "GENERAL MOTORS CO",
        55.0,
        0.34,
        0.009,
        12_000_000,
        1.3,
    ),
    (
        "PG",
        "NYSE",
        _CS,
        "Cosmetics/Personal Care",
        "PROCTER & GAMBLE CO/THE",
        172.0,
        0.16,
        0.024,
        6_500_000,
        0.4,
    ),
    ("KO", "NYSE", _CS, "Beverages", "COCA-COLA CO/THE", 64.0, 0.15, 0.030, 14_000_000, 0.5),
    ("PEP", "NASDAQ", _CS, "Beverages", "PEPSICO INC", 160.0, 0.18, 0.034, 6_000_000, 0.5),
    ("WMT", "NYSE", _CS, "Retail", "WALMART INC", 88.0, 0.20, 0.010, 16_000_000, 0.5),
    ("COST", "NASDAQ", _CS, "Retail", "COSTCO WHOLESALE CORP", 915.0, 0.21, 0.005, 2_000_000, 0.8),
    ("MO", "NYSE", _CS, "Agriculture", "ALTRIA GROUP INC", 57.0, 0.19, 0.071, 8_000_000, 0.5),
    ("BA", "NYSE", _I, "Aerospace/Defense", "BOEING CO/THE", 158.0, 0.38, 0.0, 8_000_000, 1.3),
    (
        "CAT",
        "NYSE",
        _I,
        "Machinery-Constr&Mining",
        "CATERPILLAR INC",
        385.0,
        0.28,
        0.015,
        2_800_000,
        1.1,
    ),
    (
        "GE",
        "NYSE",
        _I,
        "Aerospace/Defense",
        "GENERAL ELECTRIC CO",
        180.0,
        0.30,
        0.006,
        5_000_000,
        1.2,
    ),
    (
        "UPS",
        "NYSE",
        _I,
        "Transportation",
        "UNITED PARCEL SERVICE-CL B",
        132.0,
        0.27,
        0.049,
        4_500_000,
        0.9,
    ),
    (
        "LMT",
        "NYSE",
        _I,
        "Aerospace/Defense",
        "LOCKHEED MARTIN CORP",
        530.0,
        0.20,
        0.025,
        1_300_000,
        0.5,
    ),
    ("DIS", "NYSE", _C, "Media", "WALT DISNEY CO/THE", 112.0, 0.27, 0.008, 9_000_000, 1.1),
    ("NFLX", "NASDAQ", _C, "Internet", "NETFLIX INC", 880.0, 0.36, 0.0, 3_000_000, 1.3),
    ("GOOGL", "NASDAQ", _C, "Internet", "ALPHABET INC-CL A", 172.0, 0.30, 0.005, 25_000_000, 1.1),
    (
        "META",
        "NASDAQ",
        _C,
        "Internet",
        "META PLATFORMS INC-CLASS A",
        565.0,
        0.38,
        0.004,
        13_000_000,
        1.3,
    ),
    ("T", "NYSE", _C, "Telecommunications", "AT&T INC", 22.5, 0.20, 0.049, 35_000_000, 0.6),
    (
        "VZ",
        "NYSE",
        _C,
        "Telecommunications",
        "VERIZON COMMUNICATIONS INC",
        42.0,
        0.19,
        0.064,
        18_000_000,
        0.5,
    ),
    ("NEE", "NYSE", _U, "Electric", "NEXTERA ENERGY INC", 76.0, 0.25, 0.027, 10_000_000, 0.6),
    ("DUK", "NYSE", _U, "Electric", "DUKE ENERGY CORP", 112.0, 0.17, 0.037, 3_500_000, 0.4),
    ("SO", "NYSE", _U, "Electric", "SOUTHERN CO/THE", 88.0, 0.17, 0.033, 4_500_000, 0.4),
    ("LIN", "NASDAQ", _M, "Chemicals", "LINDE PLC", 455.0, 0.19, 0.012, 2_000_000, 0.8),
    ("FCX", "NYSE", _M, "Mining", "FREEPORT-MCMORAN INC", 44.0, 0.40, 0.014, 14_000_000, 1.5),
    ("NEM", "NYSE", _M, "Mining", "NEWMONT CORP", 45.0, 0.36, 0.022, 10_000_000, 0.5),
    ("DOW", "NYSE", _M, "Chemicals", "DOW INC", 44.0, 0.30, 0.063, 7_000_000, 1.0),
    ("PLD", "NYSE", _RE, "REITS", "PROLOGIS INC", 116.0, 0.26, 0.033, 4_000_000, 1.0),
    ("O", "NYSE", _RE, "REITS", "REALTY INCOME CORP", 57.0, 0.21, 0.055, 5_000_000, 0.7),
)


def _stock(row: tuple[str, str, str, str, str, float, float, float, int, float]) -> SymbolSpec:
    sym, primary, sector, industry, name, price, vol, q, volume, beta = row
    return SymbolSpec(
        symbol=sym,
        con_id=con_id_for(sym),
        sec_type="STK",
        exchange="SMART",
        primary_exchange=primary,
        sector=sector,
        industry=industry,
        long_name=name,
        base_price=price,
        vol=vol,
        div_yield=q,
        avg_volume=volume,
        beta=beta,
    )


INDEXES: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        symbol="SPX",
        con_id=416904,
        sec_type="IND",
        exchange="CBOE",
        primary_exchange="CBOE",
        sector="Indices",
        industry="Indices",
        long_name="S&P 500 Stock Index",
        base_price=6000.0,
        vol=0.15,
        div_yield=0.013,
        avg_volume=0,
    ),
    SymbolSpec(
        symbol="XSP",
        con_id=con_id_for("XSP"),
        sec_type="IND",
        exchange="CBOE",
        primary_exchange="CBOE",
        sector="Indices",
        industry="Indices",
        long_name="MINI SPX INDEX",
        base_price=600.0,
        vol=0.15,
        div_yield=0.013,
        avg_volume=0,
    ),
    SymbolSpec(
        symbol="SPY",
        con_id=756733,
        sec_type="STK",
        exchange="SMART",
        primary_exchange="ARCA",
        sector="ETF",
        industry="Equity Fund",
        long_name="SPDR S&P 500 ETF TRUST",
        base_price=598.8,
        vol=0.15,
        div_yield=0.012,
        avg_volume=60_000_000,
    ),
    SymbolSpec(
        symbol="VIX",
        con_id=13455763,
        sec_type="IND",
        exchange="CBOE",
        primary_exchange="CBOE",
        sector="Indices",
        industry="Indices",
        long_name="CBOE Volatility Index",
        base_price=16.5,
        vol=0.80,
        avg_volume=0,
        multiplier=100,
    ),
    SymbolSpec(
        symbol="VIX3M",
        con_id=con_id_for("VIX3M"),
        sec_type="IND",
        exchange="CBOE",
        primary_exchange="CBOE",
        sector="Indices",
        industry="Indices",
        long_name="CBOE 3-Month Volatility Index",
        base_price=18.3,
        vol=0.45,
        avg_volume=0,
        multiplier=100,
    ),
)

STOCKS: tuple[SymbolSpec, ...] = tuple(_stock(r) for r in _STOCKS)


def default_universe() -> list[SymbolSpec]:
    """Stocks first, then SPX, XSP, SPY, VIX, VIX3M (the order fixes option-id prefixes)."""
    return [*STOCKS, *INDEXES]
