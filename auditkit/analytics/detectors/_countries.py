"""Where a country is, roughly: one point per ISO 3166-1 alpha-2 code, for logins that
carry a country but no coordinates.

Each point is near the country's main population (its largest city or its capital), not
its geometric centre: logins come from where people are.  Large countries are far from
one point, so :func:`auditkit.analytics.detectors.auth.impossible_travel` allows
:data:`SLACK_KM` of error at each end before it calls a trip impossible.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["COUNTRY_POINTS", "SLACK_KM", "country_points"]

#: Error allowed at an end located by its country only (km).
SLACK_KM: Final = 750.0

#: code -> (lat, lon) near the main population.
COUNTRY_POINTS: Final[dict[str, tuple[float, float]]] = {
    # Europe
    "AD": (42.5, 1.5), "AL": (41.3, 19.8), "AT": (48.2, 16.4), "BA": (43.9, 18.4),
    "BE": (50.8, 4.4), "BG": (42.7, 23.3), "BY": (53.9, 27.6), "CH": (47.2, 8.0),
    "CY": (35.2, 33.4), "CZ": (50.1, 14.4), "DE": (51.0, 9.0), "DK": (55.7, 12.0),
    "EE": (59.4, 24.8), "ES": (40.4, -3.7), "FI": (60.5, 24.9), "FR": (47.0, 2.5),
    "GB": (52.5, -1.5), "GR": (38.0, 23.7), "HR": (45.8, 16.0), "HU": (47.5, 19.0),
    "IE": (53.3, -6.3), "IS": (64.1, -21.9), "IT": (42.5, 12.5), "LT": (54.7, 25.3),
    "LU": (49.6, 6.1), "LV": (56.9, 24.1), "MD": (47.0, 28.8), "ME": (42.4, 19.3),
    "MK": (42.0, 21.4), "MT": (35.9, 14.5), "NL": (52.2, 5.0), "NO": (59.9, 10.7),
    "PL": (52.1, 19.4), "PT": (39.5, -8.4), "RO": (44.4, 26.1), "RS": (44.8, 20.5),
    "RU": (55.8, 37.6), "SE": (59.3, 17.0), "SI": (46.1, 14.5), "SK": (48.5, 18.5),
    "UA": (50.4, 30.5), "XK": (42.7, 21.2),
    # Middle East and Africa
    "AE": (25.2, 55.3), "DZ": (36.7, 3.1), "EG": (30.0, 31.2), "ET": (9.0, 38.7),
    "GH": (5.6, -0.2), "IL": (32.1, 34.8), "IQ": (33.3, 44.4), "IR": (35.7, 51.4),
    "JO": (31.9, 35.9), "KE": (-1.3, 36.8), "KW": (29.4, 48.0), "LB": (33.9, 35.5),
    "MA": (33.6, -7.6), "NG": (6.5, 3.4), "QA": (25.3, 51.5), "SA": (24.7, 46.7),
    "SN": (14.7, -17.4), "SY": (33.5, 36.3), "TN": (36.8, 10.2), "TR": (40.0, 30.0),
    "TZ": (-6.8, 39.3), "UG": (0.3, 32.6), "ZA": (-26.2, 28.0), "CM": (4.0, 9.7),
    "CI": (5.3, -4.0), "AO": (-8.8, 13.2), "ZW": (-17.8, 31.0), "OM": (23.6, 58.4),
    "BH": (26.2, 50.6), "YE": (15.4, 44.2), "LY": (32.9, 13.2), "SD": (15.6, 32.5),
    # Asia and Oceania
    "AF": (34.5, 69.2), "AM": (40.2, 44.5), "AU": (-33.9, 151.2), "AZ": (40.4, 49.9),
    "BD": (23.8, 90.4), "CN": (31.2, 116.0), "GE": (41.7, 44.8), "HK": (22.3, 114.2),
    "ID": (-6.2, 106.8), "IN": (22.0, 78.0), "JP": (35.7, 139.7), "KG": (42.9, 74.6),
    "KH": (11.6, 104.9), "KP": (39.0, 125.8), "KR": (37.6, 127.0), "KZ": (43.2, 76.9),
    "LA": (18.0, 102.6), "LK": (6.9, 79.9), "MM": (16.9, 96.2), "MN": (47.9, 106.9),
    "MO": (22.2, 113.5), "MY": (3.1, 101.7), "NP": (27.7, 85.3), "NZ": (-37.8, 174.8),
    "PH": (14.6, 121.0), "PK": (28.0, 70.0), "SG": (1.35, 103.8), "TH": (13.8, 100.5),
    "TJ": (38.6, 68.8), "TM": (37.9, 58.4), "TW": (25.0, 121.5), "UZ": (41.3, 69.2),
    "VN": (16.0, 106.0), "FJ": (-18.1, 178.4), "PG": (-9.4, 147.2),
    # Americas
    "AR": (-34.6, -58.4), "BO": (-16.5, -68.1), "BR": (-23.0, -46.0), "CA": (45.5, -76.0),
    "CL": (-33.4, -70.7), "CO": (4.6, -74.1), "CR": (9.9, -84.1), "CU": (23.1, -82.4),
    "DO": (18.5, -69.9), "EC": (-1.5, -79.0), "GT": (14.6, -90.5), "HN": (14.1, -87.2),
    "JM": (18.0, -76.8), "MX": (19.4, -99.1), "NI": (12.1, -86.3), "PA": (9.0, -79.5),
    "PE": (-12.0, -77.0), "PR": (18.4, -66.1), "PY": (-25.3, -57.6), "SV": (13.7, -89.2),
    "TT": (10.7, -61.5), "US": (38.0, -90.0), "UY": (-34.9, -56.2), "VE": (10.5, -66.9),
}  # fmt: skip


def country_points() -> pl.LazyFrame:
    """The table as a frame: ``_country``, ``_clat``, ``_clon``."""
    codes = list(COUNTRY_POINTS)
    return pl.LazyFrame(
        {
            "_country": codes,
            "_clat": [COUNTRY_POINTS[c][0] for c in codes],
            "_clon": [COUNTRY_POINTS[c][1] for c in codes],
        }
    )
