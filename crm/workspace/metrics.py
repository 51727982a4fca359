"""Every metric of the workspace's reports and dashboard, defined once (指标口径).

The per-policy and per-claim arithmetic is the segmentation engine's own
(segmentation.features: the 1/365 method, covered days, the loss ratio; the windows and the
claim statuses that count come from the tier policy), so a loss ratio on a report means what
it means in the tier rules. ``DEFINITIONS`` says each one in words, for the definitions page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from segmentation.features import DAYS_PER_YEAR, covered_days, earned_premium_1_365, loss_ratio
from segmentation.policy import TierPolicy

_POLICY = TierPolicy()
WINDOW_DAYS = _POLICY.window_days
EXCLUDED_CLAIM_STATUSES = _POLICY.excluded_claim_statuses
LONG_TERM_MIN_YEARS = _POLICY.long_term_min_years
# A claim is pending (未决) from its report date until it is paid, rejected or withdrawn.
PENDING_STATUSES = ("reported", "registered", "under_review", "approved")
PENDING_BANDS = ((0, 30, "0-30"), (31, 90, "31-90"), (91, 180, "91-180"), (181, None, "181+"))
# The free-look period (犹豫期) of long-term business: a policy cancelled within it never counted.
FREE_LOOK_DAYS = 15
PERSISTENCY_MONTHS = 13
# Benefit uses recorded without the customer doing anything: the assistance membership's fee.
AUTOMATIC_BENEFIT_SOURCE = "enrolment"
LARGE_CLAIM_AMOUNT = Decimal("50000")
LARGE_CLAIM_RECENT_DAYS = 30
FOLLOW_UP_HORIZON_DAYS = 7
# A VIP is due a face-to-face visit when none was logged in this many days.
VIP_VISIT_INTERVAL_DAYS = 90

__all__ = ["DAYS_PER_YEAR", "covered_days", "earned_premium_1_365", "loss_ratio"]


def window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The loss-ratio window [start, end) ending with as_of (the tier rules' 3-year window)."""
    return as_of - dt.timedelta(days=WINDOW_DAYS - 1), as_of + dt.timedelta(days=1)


def year_to_date(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """[1 January of as_of's year, as_of + 1 day): the period of the earned-premium report."""
    return dt.date(as_of.year, 1, 1), as_of + dt.timedelta(days=1)


def is_long_term_regular(term_years, payment_mode) -> np.ndarray:
    """10-year-and-longer regular-premium business (10年期及以上期交)."""
    return (np.asarray(term_years) >= LONG_TERM_MIN_YEARS) & (np.asarray(payment_mode, dtype=object) != "single")


def is_new_long_term_business(
    term_years, payment_mode, start: np.ndarray, end: np.ndarray, year_start: int, as_of: int
) -> np.ndarray:
    """New long-term regular business of as_of's year that counts (day numbers): started this year,
    past its free-look period (犹豫期) by as_of, and still in force at as_of."""
    return (
        is_long_term_regular(term_years, payment_mode)
        & (start >= year_start)
        & (start + FREE_LOOK_DAYS <= as_of)
        & (end > as_of)
    )


def persistency_cohort(start_dates, end_dates, as_of: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """13-month persistency (13个月继续率) of long-term regular policies: (due, kept) masks.

    Due: the policy's 13th month ended in the 12 months up to as_of (start + 13 months in
    (as_of − 1 year, as_of]). Kept: a due policy whose cover still ran at start + 13 months.
    """
    start = pd.to_datetime(pd.Series(start_dates)).reset_index(drop=True)
    end = pd.to_datetime(pd.Series(end_dates)).reset_index(drop=True)
    month13 = start + pd.DateOffset(months=PERSISTENCY_MONTHS)
    upper = pd.Timestamp(as_of)
    lower = upper - pd.DateOffset(years=1)
    due = ((month13 > lower) & (month13 <= upper)).to_numpy()
    return due, due & (end > month13).to_numpy()


def time_progress(year: int, as_of: dt.date) -> float:
    """The share of ``year`` elapsed by the end of as_of (时间进度): 0 before it, 1 after it."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if as_of < first:
        return 0.0
    if as_of >= last:
        return 1.0
    return ((as_of - first).days + 1) / ((last - first).days + 1)


def pending_band(days_since_report: np.ndarray) -> np.ndarray:
    """The age band of a pending claim, counted in days from its report date."""
    labels = np.empty(len(days_since_report), dtype=object)
    for lo, hi, label in PENDING_BANDS:
        sel = (days_since_report >= lo) & (True if hi is None else days_since_report <= hi)
        labels[sel] = label
    return labels


def ratio_or_none(incurred: float, earned: float) -> float | None:
    """The loss ratio for display: None (shown as —) where it is infinite (no earned premium)."""
    value = float(loss_ratio(incurred, earned))
    return None if np.isinf(value) else value


def progress(actual, plan) -> float | None:
    """Plan achievement, actual / plan (e.g. 0.6554 → "65.54% of the annual plan"); None without a plan."""
    if plan is None or Decimal(plan) == 0:
        return None
    return float(Decimal(actual) / Decimal(plan))


@dataclass(frozen=True)
class Definition:
    code: str
    en_name: str
    zh_name: str
    en: str
    zh: str


DEFINITIONS = (
    Definition(
        "earned_premium",
        "Earned premium (1/365 method)",
        "已赚保费（1/365法）",
        "For each policy: annual premium × days of the period the policy covers ÷ 365, summed. A year always "
        "has 365 days, also a leap year. A policy covers from its start date up to, not including, its end date. "
        "Reports show the year to date (1 January to the report date).",
        "逐单计算：年缴保费 × 统计期内保单有效天数 ÷ 365，再求和。每年按365天计（闰年亦同）。保单自起保日起有效，"
        "至终止日（不含）止。报表统计期为当年1月1日至报表日。",
    ),
    Definition(
        "incurred",
        "Incurred claims",
        "已发生赔款",
        "Paid amount plus outstanding reserve of the claims whose loss date is in the 3-year window ending on "
        "the report date and that were reported by then; rejected and withdrawn claims do not count.",
        "出险日期在截至报表日的三年统计期内、且报表日前已报案的赔案的已决赔款与未决准备金之和；拒赔和撤案不计。",
    ),
    Definition(
        "loss_ratio",
        "Loss ratio (earned basis)",
        "赔付率（满期赔付率口径）",
        f"Incurred claims ÷ earned premium, both over the {WINDOW_DAYS}-day window ending on the report date "
        "(the tier rules' definition). 0 when both are 0; shown as — when only the earned premium is 0.",
        f"已发生赔款 ÷ 已赚保费，二者均按截至报表日的{WINDOW_DAYS}天统计期计算（与分层规则口径一致）。"
        "二者均为0时为0；仅已赚保费为0时显示为 —。",
    ),
    Definition(
        "pending_claims",
        "Pending claims (未决赔案)",
        "未决赔案",
        "Claims reported on or before the report date and not yet paid, rejected or withdrawn (statuses reported, "
        "registered, under review, approved), counted from the report date (报案), not from registration (立案). "
        "The estimated amount is the outstanding reserve. Age bands count days since the report date.",
        "报表日前已报案、尚未结案（已报案、已立案、审核中、已核准）的赔案，自报案日起计（非立案日）。"
        "估损金额为未决准备金。账龄按报案日至报表日的天数分段。",
    ),
    Definition(
        "long_term_premium",
        "New long-term regular-premium business",
        "10年期及以上期交新单保费",
        f"Annual premium of policies with a term of {LONG_TERM_MIN_YEARS} years or more and a regular (not single) "
        f"payment that started in the target year, whose {FREE_LOOK_DAYS}-day free-look period has passed by the "
        "report date and that are still in force on it (a policy cancelled or lapsed by then does not count). "
        "Counted for the customer's current account manager.",
        f"保险期间{LONG_TERM_MIN_YEARS}年及以上、非趸交、起保日在目标年度内的保单中，截至报表日已过{FREE_LOOK_DAYS}天"
        "犹豫期且报表日仍有效的保单的年缴保费之和（报表日前已退保或失效的不计），计入客户当前的客户经理。",
    ),
    Definition(
        "persistency_13m",
        "13-month persistency",
        "13个月继续率",
        f"Of the long-term regular-premium policies whose {PERSISTENCY_MONTHS}th month ended in the 12 months up "
        f"to the report date, the share of annual premium whose cover still ran {PERSISTENCY_MONTHS} months after "
        "the start date. Per account manager and team.",
        f"第{PERSISTENCY_MONTHS}个保单月于报表日前12个月内届满的10年期及以上期交保单中，起保{PERSISTENCY_MONTHS}个月后"
        "仍有效的保单年缴保费占比。按客户经理和团队统计。",
    ),
    Definition(
        "time_progress",
        "Time progress",
        "时间进度",
        "The share of the year elapsed by the report date (e.g. 60% on 7 August). Plan achievement ahead of "
        "the time progress is ahead of plan.",
        "截至报表日本年度已过天数占全年天数的比例（如8月7日约为60%）。计划完成率高于时间进度即为超进度。",
    ),
    Definition(
        "premium_in_force",
        "Policies and annual premium in force",
        "有效保单与有效年缴保费",
        "Policies whose cover includes the report date (start date on or before it, end date after it), not "
        "voided, and the sum of their annual premiums.",
        "保障期间包含报表日（起保日不晚于报表日、终止日晚于报表日）且未作废的保单件数及其年缴保费之和。",
    ),
    Definition(
        "unearned_premium",
        "Unearned premium reserve (1/365 method)",
        "未到期责任准备金（1/365法）",
        "For each policy in force on the report date: annual premium × the days from the day after the report "
        "date to the end of the current policy year ÷ 365. A policy year runs from an anniversary of the start "
        "date (29 February falls on 28 February in other years) to the next one or the end date, whichever "
        "comes first.",
        "对报表日有效的每张保单：年缴保费 × 自报表日次日至当前保单年度末的天数 ÷ 365。保单年度自起保日的周年日起"
        "（2月29日起保的，平年以2月28日为周年日），至下一周年日或终止日（以先到者为准）止。",
    ),
    Definition(
        "visits",
        "Visits and follow-ups",
        "拜访与回访",
        "Visits, follow-up calls and events logged by an account manager, counted by visit date; weeks run "
        "Monday to Sunday (ISO weeks), months by calendar month.",
        "客户经理登记的拜访、回访电话和活动，按拜访日期统计；周为周一至周日（ISO周），月为自然月。",
    ),
    Definition(
        "face_to_face_rate",
        "Face-to-face visit rate",
        "面访率",
        "Per manager and ISO week: of the customers due a face-to-face visit that week — those with a follow-up "
        f"due in it, and the manager's VIPs without a face-to-face visit in the {VIP_VISIT_INTERVAL_DAYS} days "
        "before its Monday — the share visited face to face during the week (calls and events do not count).",
        "按客户经理、按ISO周：本周应面访客户（本周有到期回访的客户，以及周一前"
        f"{VIP_VISIT_INTERVAL_DAYS}天内未面访的名下贵宾客户）中，本周已当面拜访的比例（电话和活动不计）。",
    ),
    Definition(
        "effective_visits",
        "Effective visits",
        "有效拜访",
        "Visits, calls and events logged with both an outcome and a next step, counted by visit date, weekly "
        "and monthly.",
        "登记了拜访结果且有下一步计划的拜访、回访电话和活动，按拜访日期统计，按周和按月汇总。",
    ),
    Definition(
        "plan_progress",
        "Plan achievement",
        "计划完成率",
        "Actual ÷ annual plan, e.g. 65.54% of the annual plan. A team's plan and actual are its own target and "
        "the sum of its members' actuals.",
        "实际完成 ÷ 年度计划，例如“完成年度计划的65.54%”。团队的实际完成为成员实际完成之和。",
    ),
    Definition(
        "watchlist_share",
        "Watchlist share",
        "观察名单占比",
        "Customers on the watchlist ÷ scored customers, after the latest recalculation.",
        "最近一次分层计算后，观察名单客户数 ÷ 已分层客户数。",
    ),
    Definition(
        "large_claims",
        "Claims over the threshold",
        "大额赔案",
        f"Claims reported in the last {LARGE_CLAIM_RECENT_DAYS} days whose claimed amount exceeds "
        f"CNY {LARGE_CLAIM_AMOUNT:,.0f}.",
        f"近{LARGE_CLAIM_RECENT_DAYS}天内报案、索赔金额超过人民币{LARGE_CLAIM_AMOUNT:,.0f}元的赔案。",
    ),
    Definition(
        "benefit_utilisation",
        "Benefit utilisation",
        "增值服务使用率",
        "Customers entitled to a benefit this year who used at least one since 1 January (a partner coupon "
        "issued to them, a health checkup or appointment attended or missed) ÷ customers entitled. The automatic "
        "global emergency assistance membership is a cost, not a use.",
        "本年度享有增值服务权益的客户中，自1月1日起至少使用过一项（领取合作商户优惠券、参加或爽约健康体检/预约挂号）"
        "的客户数 ÷ 享有权益的客户数。全球紧急救援的自动会员资格计入成本，不计为使用。",
    ),
    Definition(
        "benefit_cost_ratio",
        "Benefit cost ratio",
        "增值服务成本率",
        "The cost of every benefit use since 1 January, the assistance membership fees included, ÷ the premium "
        "earned this year (1/365 method) by the customers entitled to benefits.",
        "自1月1日起全部增值服务使用成本（含救援会员费）÷ 享有权益客户本年已赚保费（1/365法）。",
    ),
    Definition(
        "benefit_cost_ceiling",
        "Benefit cost ceiling",
        "增值服务成本上限",
        "A customer's benefit cost over the 365 days up to the day, against the catalogue's ceiling share of "
        "their annual premium in force. A coupon or booking that would take the cost over the ceiling is given "
        "only after an admin or risk officer other than the requester approves it (买椟还珠).",
        "客户近365天的增值服务成本，不得超过其有效年缴保费乘以服务目录规定的上限比例。将使成本超出上限的优惠券或预约，"
        "须经申请人以外的管理员或风控专员批准后方可办理（防止买椟还珠）。",
    ),
    Definition(
        "results_by_source",
        "Results by customer source",
        "按客户来源统计的业绩",
        "Per source recorded on the customer (referral, cold visit, community event, agent, online, other): "
        "customers, VIPs after the latest recalculation, new premium (annual premium of policies that started "
        "this year up to the report date) and the loss ratio as defined above.",
        "按客户登记的来源（转介绍、陌生拜访、社区活动、代理人、网络、其他）统计：客户数、最近一次分层后的贵宾数、"
        "新单保费（本年起保至报表日的保单年缴保费）及上述口径的赔付率。",
    ),
    Definition(
        "referral_premium",
        "Premium brought in by referrals",
        "转介绍带来的保费",
        "On a customer's page: the annual premium in force of everyone the customer referred, directly or "
        "through the people they referred (up to six levels).",
        "客户页面上：该客户直接或间接（最多六层）转介绍的客户的有效年缴保费之和。",
    ),
    Definition(
        "customers",
        "Customers",
        "客户数",
        "Customers on record in the scope shown (an account manager: their own portfolio), scored or not.",
        "所示范围内（客户经理：本人名下）登记的客户数，无论是否已分层。",
    ),
    Definition(
        "queue_counts",
        "Review queues",
        "审核队列",
        "Per queue (enhanced underwriting, claims review): the cases open, in review or escalated, and of them "
        "those whose SLA due date has passed.",
        "每个队列（加强核保、理赔审核）中待处理、审核中或已上报的案件数，以及其中已超过时效期限的案件数。",
    ),
    Definition(
        "unassigned_vips",
        "VIPs without an account manager",
        "无客户经理的贵宾客户",
        "Customers in the VIP tier after the latest recalculation who have no account manager.",
        "最近一次分层后属于贵宾层级、但没有客户经理的客户数。",
    ),
    Definition(
        "overdue_cases",
        "Overdue review cases",
        "超时审核案件",
        "Review cases not closed whose SLA due date has passed.",
        "未结案且已超过时效期限的审核案件。",
    ),
    Definition(
        "follow_ups_due",
        "Follow-ups due",
        "待回访",
        f"Open next steps of logged visits due within {FOLLOW_UP_HORIZON_DAYS} days or overdue.",
        f"已登记拜访中尚未完成、{FOLLOW_UP_HORIZON_DAYS}天内到期或已逾期的下一步跟进。",
    ),
)
