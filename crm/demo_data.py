"""A realistic synthetic insurance portfolio, for the demo and for the risk model.

``generate_portfolio`` returns three DataFrames whose columns are exactly the CSV
columns of CONTRACT.md and whose every value is a ``str`` written exactly as in the CSV
(dates ``YYYY-MM-DD``, money ``1234.50``, flags ``0``/``1``, optional fields ``""``),
so ``frame.to_csv(index=False)`` is an importable file and every value passes the
parsers of :mod:`crm.validators`. Cities are Chinese names (北京, 上海, …).

Pure numpy/pandas, vectorised: 100,000 customers take a few seconds. The same seed
(and arguments) always gives identical frames.

What is hidden in the data for a model to find: claim frequency depends on the
customer's age (U-shaped), city, source and a hidden per-customer risk factor (a small
share of "loss makers" claim many times), and on the product; severity is lognormal
by product. Claim amounts are finally scaled so that the portfolio loss ratio of the
last three years (TIER_RULES.md definition) is 60% (the parameters alone give 55–62%
from 5,000 customers up; the scale factor is kept within 0.5–2, so a tiny portfolio
with one large claim may end elsewhere).

Conventions: ``end_date`` is the first day without cover. Travel policies are single
trips of 4–30 days with ``term_years`` 0 and payment mode ``single``; for them, as for
every single-premium policy, ``annual_premium`` is the premium *annualised* (premium ×
365 / days covered, or premium / term years), so that the 1/365 method earns exactly
the premium paid.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd

from crm import import_rows
from crm.validators import ID_CHECK_CHARS, ID_WEIGHTS, POLICY_STATUSES, SOURCES

CUSTOMER_COLUMNS = ["customer_ref", "name", "id_number", "phone", "city", "source", "referred_by", "account_manager"]
POLICY_COLUMNS = list(import_rows.POLICY_COLUMNS)
CLAIM_COLUMNS = list(import_rows.CLAIM_COLUMNS)
TARGET_LOSS_RATIO = 0.60
WINDOW_DAYS = 1095


class Portfolio(NamedTuple):
    customers: pd.DataFrame
    policies: pd.DataFrame
    claims: pd.DataFrame


# Surnames with rough relative frequencies (per cent of the population).
SURNAMES = {
    "王": 7.1,
    "李": 7.0,
    "张": 6.7,
    "刘": 5.4,
    "陈": 4.5,
    "杨": 3.1,
    "黄": 2.2,
    "赵": 2.0,
    "吴": 1.8,
    "周": 1.7,
    "徐": 1.3,
    "孙": 1.2,
    "马": 1.1,
    "朱": 1.1,
    "胡": 1.0,
    "郭": 1.0,
    "何": 0.9,
    "高": 0.9,
    "林": 0.9,
    "罗": 0.8,
    "郑": 0.8,
    "梁": 0.7,
    "谢": 0.6,
    "宋": 0.6,
    "唐": 0.6,
    "许": 0.5,
    "韩": 0.5,
    "冯": 0.5,
    "邓": 0.5,
    "曹": 0.5,
    "彭": 0.5,
    "曾": 0.4,
    "肖": 0.4,
    "田": 0.4,
    "董": 0.4,
    "袁": 0.4,
    "潘": 0.4,
    "于": 0.4,
    "蒋": 0.4,
    "蔡": 0.4,
    "余": 0.4,
    "杜": 0.3,
    "叶": 0.3,
    "程": 0.3,
    "苏": 0.3,
    "魏": 0.3,
    "吕": 0.3,
    "丁": 0.3,
    "任": 0.3,
    "沈": 0.3,
    "姚": 0.3,
    "卢": 0.3,
    "欧阳": 0.05,
    "司马": 0.01,
    "上官": 0.01,
}
GIVEN_M = list("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国峰成亮志文博彬晨轩昊然睿泽子豪")
GIVEN_F = list("芳娜敏静丽艳娟霞秀燕玲桂丹萍红琳雪梅莉婷慧颖洁琴云倩璐蓉欣悦佳怡晶妍思雨萱涵婉晓嘉")
# city: (weight, frequency factor, real county-level region codes of its districts)
CITIES = {
    "北京": (12, 0.90, ("110101", "110102", "110105", "110106", "110108")),
    "上海": (12, 0.90, ("310101", "310104", "310105", "310112", "310115")),
    "广州": (8, 1.05, ("440103", "440104", "440105", "440106", "440111")),
    "深圳": (8, 1.00, ("440303", "440304", "440305", "440306", "440307")),
    "杭州": (6, 0.95, ("330102", "330105", "330106", "330108", "330110")),
    "成都": (6, 1.10, ("510104", "510105", "510106", "510107", "510108")),
    "武汉": (5, 1.05, ("420102", "420103", "420106", "420111")),
    "南京": (5, 0.95, ("320102", "320104", "320105", "320106", "320115")),
    "西安": (4, 1.10, ("610102", "610103", "610104", "610113")),
    "重庆": (5, 1.25, ("500103", "500105", "500106", "500107", "500112")),
    "天津": (5, 1.00, ("120101", "120102", "120103", "120104", "120105")),
    "苏州": (5, 0.95, ("320505", "320506", "320507", "320508")),
    "长沙": (3, 1.10, ("430102", "430103", "430104", "430105")),
    "郑州": (3, 1.15, ("410102", "410103", "410104", "410105")),
    "青岛": (3, 1.00, ("370202", "370203", "370211", "370212")),
}
PHONE_PREFIXES = (
    130,
    131,
    132,
    133,
    134,
    135,
    136,
    137,
    138,
    139,
    147,
    150,
    151,
    152,
    153,
    155,
    156,
    157,
    158,
    159,
    166,
    173,
    176,
    177,
    178,
    180,
    181,
    182,
    183,
    184,
    185,
    186,
    187,
    188,
    189,
    191,
    198,
    199,
)
SOURCE_WEIGHTS = {"referral": 30, "cold_visit": 14, "community_event": 11, "agent": 22, "online": 18, "other": 5}
SOURCE_FREQ = {"referral": 0.9, "cold_visit": 1.0, "community_event": 0.95, "agent": 1.0, "online": 1.2, "other": 1.05}

# Products, in validators.PRODUCT_TYPES spelling. prem = (median, sigma, low, high,
# wealth elasticity) of the annual premium; lam = claims per policy-year at factor 1;
# lr = claimed amounts / premium intended for the product (rejections and partial
# settlements bring the paid loss ratio down to about 60%); sev = severity lognormal sigma.
PRODUCTS = {
    "life": dict(w=17, prem=(5500, 1.0, 3000, 80000, 1.0), lam=0.02, lr=0.38, sev=0.8),
    "critical_illness": dict(w=15, prem=(6000, 0.7, 2000, 30000, 0.8), lam=0.012, lr=0.63, sev=0.3),
    "health": dict(w=20, prem=(1800, 0.6, 500, 8000, 0.3), lam=0.40, lr=0.95, sev=1.0),
    "accident": dict(w=14, prem=(300, 0.5, 100, 1000, 0.2), lam=0.06, lr=0.57, sev=1.0),
    "motor": dict(w=18, prem=(4500, 0.4, 2000, 12000, 0.3), lam=0.28, lr=0.89, sev=1.0),
    "property": dict(w=9, prem=(900, 0.6, 300, 3000, 0.5), lam=0.04, lr=0.57, sev=1.2),
    "travel": dict(w=7, prem=(150, 0.6, 50, 500, 0.3), lam=0.80, lr=0.70, sev=1.0),
}
PRODUCT_NAMES = list(PRODUCTS)
P_LIFE, P_CI, P_TRAVEL = (PRODUCT_NAMES.index(p) for p in ("life", "critical_illness", "travel"))
MODES = ("single", "annual", "semiannual", "quarterly", "monthly")
CODE_VARIANTS = ("T10", "T20", "T30", "STD", "PLUS", "TRIP")
PRODUCT_CODES = [
    f"{abbr}-{variant}" for abbr in ("LIFE", "CI", "HLTH", "ACC", "MTR", "PROP", "TRV") for variant in CODE_VARIANTS
]


def generate_portfolio(n_customers: int, seed: int, as_of: date, managers: list[str]) -> Portfolio:
    """Generate ``n_customers`` customers with their policies and claims as of ``as_of``.

    ``managers`` are account-manager e-mails; customers with at least 20,000 of annual
    premium in force always get one, about 70% of all customers do (none when the
    list is empty). Raises ``ValueError`` when ``n_customers`` < 1.
    """
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    rng = np.random.Generator(np.random.PCG64(seed))
    today = int(np.datetime64(as_of, "D").astype(np.int64))
    cust = _customers(rng, n_customers, today)
    pol = _policies(rng, cust, today)
    clm = _claims(rng, cust, pol, today)
    managers_col = _account_managers(rng, cust, pol, today, managers)

    refs = _codes("C", np.arange(1, n_customers + 1), 6)
    referred = np.where(cust["referrer"] >= 0, refs[np.maximum(cust["referrer"], 0)], "")
    customers = _frame(
        {
            "customer_ref": refs,
            "name": cust["name"],
            "id_number": cust["id_number"],
            "phone": cust["phone"].astype(str),
            "city": _pick(list(CITIES), cust["city"]),
            "source": _pick(SOURCES, cust["source"]),
            "referred_by": referred,
            "account_manager": managers_col,
        },
        CUSTOMER_COLUMNS,
    )
    policy_nos = _codes("P", np.arange(1, len(pol["cust"]) + 1), 9)
    policies = _frame(
        {
            "policy_no": policy_nos,
            "customer_ref": refs[pol["cust"]],
            "product_code": _pick(PRODUCT_CODES, pol["code"]),
            "product_type": _pick(PRODUCT_NAMES, pol["product"]),
            "start_date": _dates(pol["start"]),
            "end_date": _dates(pol["end"]),
            "term_years": _pick([str(t) for t in range(31)], pol["term"]),
            "payment_mode": _pick(MODES, pol["mode"]),
            "annual_premium": _money(pol["premium"]),
            "status": _pick(POLICY_STATUSES, pol["status"]),
        },
        POLICY_COLUMNS,
    )
    claims = _frame(
        {
            "claim_no": _codes("CL", np.arange(1, len(clm["policy"]) + 1), 9),
            "policy_no": policy_nos[clm["policy"]],
            "loss_date": _dates(clm["loss"]),
            "report_date": _dates(clm["report"]),
            "status": clm["status"],
            "claimed_amount": _money(clm["claimed"]),
            "reserve_amount": _money(clm["reserve"]),
            "paid_amount": _money(clm["paid"]),
            "fraud_suspected": _pick(["0", "1"], clm["fraud"]),
        },
        CLAIM_COLUMNS,
    )
    return Portfolio(customers, policies, claims)


def _customers(rng: np.random.Generator, n: int, today: int) -> dict:
    female = rng.random(n) < 0.5
    surnames = np.array(list(SURNAMES))
    weights = np.array(list(SURNAMES.values()))
    name = surnames[rng.choice(len(surnames), n, p=weights / weights.sum())]
    for k in range(2):  # one- or two-character given names, drawn per gender
        m = np.array(GIVEN_M)[rng.integers(len(GIVEN_M), size=n)]
        f = np.array(GIVEN_F)[rng.integers(len(GIVEN_F), size=n)]
        part = np.where(female, f, m)
        if k == 1:
            part = np.where(rng.random(n) < 0.7, part, "")
        name = np.strings.add(name, part)

    age = 18 + 62 * rng.beta(2.2, 3.0, n)
    birth = today - np.floor(age * 365.2425).astype(np.int64)
    city_w = np.array([c[0] for c in CITIES.values()], dtype=float)
    city = rng.choice(len(CITIES), n, p=city_w / city_w.sum())
    districts = [c[2] for c in CITIES.values()]
    pick = (rng.random(n) * np.array([len(d) for d in districts])[city]).astype(int)
    region_table = np.array([[int(x) for x in d] + [0] * (5 - len(d)) for d in districts])
    region = region_table[city, pick]

    ymd = _ymd(birth)
    prefix17 = region * 10**11 + ymd * 1000
    order = 2 * rng.integers(0, 500, n) + (~female)
    while True:  # redraw the order code of the few duplicates until all IDs differ
        dup = pd.Series(prefix17 + order).duplicated().to_numpy()
        if not dup.any():
            break
        order[dup] = 2 * rng.integers(0, 500, dup.sum()) + (~female[dup])
    first17 = prefix17 + order
    total = np.zeros(n, dtype=np.int64)
    for i, w in enumerate(ID_WEIGHTS):
        total += (first17 // 10 ** (16 - i)) % 10 * w
    check = np.array(list(ID_CHECK_CHARS))[total % 11]
    id_number = np.strings.add(first17.astype(str), check)

    phone = np.array(PHONE_PREFIXES)[rng.integers(len(PHONE_PREFIXES), size=n)] * 10**8
    phone = phone + rng.integers(0, 10**8, n)
    while (dup := pd.Series(phone).duplicated().to_numpy()).any():
        phone[dup] = phone[dup] // 10**8 * 10**8 + rng.integers(0, 10**8, dup.sum())

    src_w = np.array([SOURCE_WEIGHTS[s] for s in SOURCES], dtype=float)
    source = rng.choice(len(SOURCES), n, p=src_w / src_w.sum())
    source[0] = source[0] if SOURCES[source[0]] != "referral" else SOURCES.index("agent")
    is_ref = np.array(SOURCES)[source] == "referral"
    # a referrer is any earlier customer, so referral chains form and always point back
    referrer = np.where(is_ref, (rng.random(n) * np.arange(n)).astype(np.int64), -1)

    # Hidden traits: wealth drives premiums; risk drives claim frequency.
    wealth = rng.lognormal(0.0, 0.6, n) * np.exp(-(((age - 45) / 25) ** 2) * 0.5)
    loss_maker = rng.random(n) < 0.01
    risk = rng.lognormal(-0.5 * 0.45**2, 0.45, n) * np.where(loss_maker, rng.uniform(8, 14, n), 1)
    age_f = 1 + 0.0009 * (age - 45) ** 2
    city_f = np.array([c[1] for c in CITIES.values()])[city]
    src_f = np.array([SOURCE_FREQ[s] for s in SOURCES])[source]
    return dict(
        n=n,
        name=name,
        id_number=id_number,
        phone=phone,
        age=age,
        city=city,
        source=source,
        referrer=referrer,
        wealth=wealth,
        risk=risk,
        freq=risk * age_f * city_f * src_f,
    )


def _policies(rng: np.random.Generator, cust: dict, today: int) -> dict:
    n = cust["n"]
    # 1-4 product lines, wealthier customers holding more
    n_lines = 1 + np.searchsorted([0.42, 0.73, 0.91], rng.random(n) * cust["wealth"] ** 0.15)
    owner = np.repeat(np.arange(n), n_lines)
    m = len(owner)
    w = np.array([PRODUCTS[p]["w"] for p in PRODUCT_NAMES], dtype=float)
    weights = np.tile(w, (m, 1))
    weights[:, P_LIFE] *= np.clip(cust["wealth"][owner], 0.3, 3)
    weights[:, P_TRAVEL] *= np.where(cust["age"][owner] < 50, 1.5, 0.5)
    cum = np.cumsum(weights, axis=1)
    product = (rng.random(m)[:, None] * cum[:, -1:] < cum).argmax(axis=1)
    start0 = today - rng.integers(0, 6 * 365, m)

    # Expand lines into policies: 1-year products renew year after year; travel lines
    # are a few separate trips; life/CI are one long-term policy.
    long_term = (product == P_LIFE) | (product == P_CI)
    travel = product == P_TRAVEL
    avail = (today - start0) // 365
    avail -= _add_years(start0, avail) > today
    renewals = np.minimum(rng.geometric(0.15, m) - 1, avail) * (rng.random(m) < 0.8)
    count = np.where(long_term, 1, np.where(travel, 1 + rng.poisson(1.2, m), 1 + renewals))
    line = np.repeat(np.arange(m), count)
    j = np.arange(len(line)) - np.repeat(np.cumsum(count) - count, count)
    last_in_line = j == count[line] - 1
    product = product[line]
    k = len(line)
    is_travel = product == P_TRAVEL
    start = np.where(is_travel, today - rng.integers(0, 6 * 365, k), _add_years(start0[line], j))
    term = np.where(
        (product == P_LIFE) | (product == P_CI),
        rng.choice([10, 20, 30], k, p=[0.3, 0.45, 0.25]),
        np.where(is_travel, 0, 1),
    )
    trip_days = rng.integers(4, 31, k)
    full_end = np.where(is_travel, start + trip_days, _add_years(start, term))

    long = term >= 10
    mode = np.where(long, rng.choice(5, k, p=[0.12, 0.68, 0.06, 0.05, 0.09]), 1)
    mode = np.where(product == PRODUCT_NAMES.index("health"), rng.choice([1, 4], k, p=[0.8, 0.2]), mode)
    mode = np.where(is_travel, 0, mode)

    cents = np.empty(k, dtype=np.int64)
    cust_of = owner[line]
    wealth = cust["wealth"][cust_of]
    for p, name in enumerate(PRODUCT_NAMES):
        sel = product == p
        med, sigma, lo, hi, elasticity = PRODUCTS[name]["prem"]
        draw = rng.lognormal(np.log(med), sigma, sel.sum()) * wealth[sel] ** elasticity
        draw = np.clip(np.where(draw < lo, lo * lo / draw, draw), lo, hi)  # reflect, no pile at lo
        if name == "travel":  # trip premium, annualised over the trip
            draw = draw * 365 / trip_days[sel]
        cents[sel] = np.round(draw * 100)
    cents = np.where(long, np.round(cents / 100) * 100, cents).astype(np.int64)  # whole yuan

    # Lapse (regular premium) and cancellation: only the last policy of a renewed line
    # can be cancelled, so a cancelled line does not renew.
    years = lambda rate: rng.exponential(365 / rate, k)  # noqa: E731
    regular = long & (mode != 0)
    t_lapse = np.where(regular, 30 + years(0.05), np.inf)
    t_cancel = np.where(long, 15 + years(0.012), np.inf)
    short_cancel = (~long) & last_in_line & (rng.random(k) < np.where(is_travel, 0.02, 0.06))
    t_cancel = np.where(short_cancel, 1 + rng.random(k) * (full_end - start - 1), t_cancel)
    t_stop = np.minimum(t_lapse, t_cancel)
    stop = start + np.floor(np.minimum(t_stop, 1e6)).astype(np.int64)
    stopped = (stop < full_end) & (stop <= today) & np.isfinite(t_stop)
    end = np.where(stopped, stop, full_end)
    status = np.where(
        stopped,
        np.where(t_lapse < t_cancel, 1, 2),  # POLICY_STATUSES
        np.where(end <= today, 3, 0),
    )

    variant = np.where(
        long,
        term // 10 - 1,  # T10, T20, T30, STD, PLUS, TRIP
        np.where(is_travel, 5, np.where(cents > 500000, 4, 3)),
    )
    code = product * len(CODE_VARIANTS) + variant

    order = np.lexsort((cust_of, start))  # policy numbers in issue order
    pol = dict(
        cust=cust_of,
        product=product,
        start=start,
        end=end,
        term=term,
        mode=mode,
        premium=cents,
        status=status,
        code=code,
    )
    return {key: value[order] for key, value in pol.items()}


def _claims(rng: np.random.Generator, cust: dict, pol: dict, today: int) -> dict:
    exposure = np.minimum(pol["end"], today) - pol["start"]
    product = pol["product"]
    lam = np.array([PRODUCTS[p]["lam"] for p in PRODUCT_NAMES])[product]
    freq = cust["freq"][pol["cust"]]
    life_like = (product == P_LIFE) | (product == P_CI)
    freq = freq * np.where(life_like, np.exp(0.05 * (cust["age"][pol["cust"]] - 45)), 1)
    count = rng.poisson(lam * freq * exposure / 365)
    policy = np.repeat(np.arange(len(count)), count)
    c = len(policy)
    loss = pol["start"][policy] + np.floor(rng.random(c) * exposure[policy]).astype(np.int64)
    report = loss + np.minimum(np.floor(rng.lognormal(np.log(3), 1.0, c)), 120).astype(np.int64)
    known = report <= today  # losses not yet reported are not in the file
    policy, loss, report, c = policy[known], loss[known], report[known], known.sum()
    product = product[policy]

    premium = pol["premium"][policy] / 100
    mean_premium = np.array(
        [np.mean(pol["premium"][pol["product"] == p]) / 100 if (pol["product"] == p).any() else 0 for p in range(7)]
    )
    k = np.array([PRODUCTS[p]["lr"] / PRODUCTS[p]["lam"] for p in PRODUCT_NAMES])[product]
    sev = np.array([PRODUCTS[p]["sev"] for p in PRODUCT_NAMES])[product]
    base = np.where(np.isin(product, [P_LIFE, P_CI]), premium, 0.5 * premium + 0.5 * mean_premium[product])
    claimed = np.maximum(50, k * base * rng.lognormal(-0.5 * sev**2, sev))

    risk = cust["risk"][pol["cust"][policy]]
    early = (loss - pol["start"][policy]) < 60
    fraud = rng.random(c) < np.clip(0.003 * risk * np.where(early, 3, 1), 0, 0.5)

    age_days = today - report
    # still open: almost all of the last fortnight's claims, few after a year
    p_open = np.interp(age_days, [0, 15, 45, 120, 365, 730], [0.97, 0.9, 0.55, 0.25, 0.05, 0.01])
    p_open = np.minimum(1, p_open * np.where(claimed > 50000, 1.6, 1) * np.where(fraud, 2, 1))
    is_open = rng.random(c) < p_open
    u = rng.random(c)
    open_status = np.where(
        age_days < 7,
        _choose(u, ("reported", 0.5), ("registered", 0.35), ("under_review", 0.15)),
        _choose(u, ("reported", 0.1), ("registered", 0.25), ("under_review", 0.5), ("approved", 0.15)),
    )
    open_status = np.where(fraud & (open_status == "approved"), "under_review", open_status)
    u = rng.random(c)
    closed_status = np.where(
        fraud,
        _choose(u, ("rejected", 0.5), ("paid", 0.4), ("withdrawn", 0.1)),
        _choose(u, ("paid", 0.86), ("rejected", 0.08), ("withdrawn", 0.06)),
    )
    status = np.where(is_open, open_status, closed_status)

    settle = np.where(rng.random(c) < 0.55, 1.0, rng.uniform(0.6, 1.0, c))
    estimate = np.where(status == "approved", settle, rng.uniform(0.6, 1.0, c))
    incurred_f = np.where(status == "paid", settle, np.where(is_open, estimate, 0.0))

    # Scale amounts so the 3-year portfolio loss ratio is the target (TIER_RULES.md).
    window_start = today - (WINDOW_DAYS - 1)
    covered = np.minimum(pol["end"], today + 1) - np.maximum(pol["start"], window_start)
    covered = np.clip(covered, 0, None)
    earned = np.sum(pol["premium"] / 100 * covered / 365)
    counts = loss >= window_start
    incurred = np.sum((claimed * incurred_f)[counts])
    if incurred > 0 and earned > 0:
        claimed = claimed * np.clip(TARGET_LOSS_RATIO * earned / incurred, 0.5, 2)
    claimed_c = np.maximum(100, np.round(claimed * 100)).astype(np.int64)
    paid = np.where(status == "paid", np.maximum(1, np.round(claimed_c * settle)), 0)
    reserve = np.where(is_open, np.maximum(1, np.round(claimed_c * estimate)), 0)

    order = np.lexsort((loss, report))  # claim numbers in reporting order
    clm = dict(
        policy=policy,
        loss=loss,
        report=report,
        status=status,
        claimed=claimed_c,
        reserve=reserve.astype(np.int64),
        paid=paid.astype(np.int64),
        fraud=fraud.astype(np.int8),
    )
    return {key: value[order] for key, value in clm.items()}


def _account_managers(rng, cust: dict, pol: dict, today: int, managers: list[str]) -> np.ndarray:
    n = cust["n"]
    if not managers:
        return np.full(n, "")
    in_force = (pol["start"] <= today) & (pol["end"] > today)
    cents = np.where(in_force, pol["premium"], 0)
    premium = np.bincount(pol["cust"], weights=cents, minlength=n) / 100
    vip_ish = premium >= 20000
    rest = max(1, n - vip_ish.sum())
    share = np.clip((0.7 * n - vip_ish.sum()) / rest, 0, 1)
    assigned = vip_ish | (rng.random(n) < share)
    chosen = np.array(managers)[rng.integers(len(managers), size=n)]
    return np.where(assigned, chosen, "")


def _add_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Day numbers moved by whole calendar years (29 February moves to 1 March)."""
    d = np.asarray(days).astype("M8[D]")
    y = d.astype("M8[Y]")
    month_start = d.astype("M8[M]")
    month = (month_start - y.astype("M8[M]")).astype(np.int64)
    day = (d - month_start.astype("M8[D]")).astype(np.int64)
    moved = ((y + np.asarray(years)).astype("M8[M]") + month).astype("M8[D]") + day
    return moved.astype(np.int64)


# The formatters below return object arrays of str: pandas turns those into its str
# dtype far faster than numpy's fixed-width strings (this matters at a million rows).


def _ymd(days: np.ndarray) -> np.ndarray:
    """Day numbers as integers YYYYMMDD."""
    d = np.asarray(days).astype("M8[D]")
    year = d.astype("M8[Y]")
    month_start = d.astype("M8[M]")
    month = (month_start - year.astype("M8[M]")).astype(np.int64) + 1
    day = (d - month_start.astype("M8[D]")).astype(np.int64) + 1
    return (year.astype(np.int64) + 1970) * 10000 + month * 100 + day


def _dates(days: np.ndarray) -> np.ndarray:
    days = np.asarray(days, dtype=np.int64)
    if not len(days):
        return np.array([], dtype=object)
    low = days.min()
    table = np.arange(low, days.max() + 1).astype("M8[D]").astype(str).astype(object)
    return table[days - low]


def _money(cents: np.ndarray) -> np.ndarray:
    cents = np.asarray(cents, dtype=np.int64)
    text = np.dtypes.StringDType()
    whole = np.strings.add((cents // 100).astype(text), ".")
    return np.strings.add(whole, np.strings.zfill((cents % 100).astype(text), 2)).astype(object)


def _codes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    digits = numbers.astype(np.dtypes.StringDType())
    return np.strings.add(prefix, np.strings.zfill(digits, width)).astype(object)


def _choose(u: np.ndarray, *options: tuple[str, float]) -> np.ndarray:
    """Values drawn with the given probabilities, ``u`` being uniform on [0, 1)."""
    values, probs = zip(*options)
    index = np.searchsorted(np.cumsum(probs), u, side="right")
    return np.array(values)[np.minimum(index, len(values) - 1)]


def _pick(values, index: np.ndarray) -> np.ndarray:
    return np.array(values, dtype=object)[index]


def _frame(data: dict, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({k: np.asarray(v, dtype=object) for k, v in data.items()}, columns=columns)
