"""Simplified Chinese for the benefits pages (merged into the catalogue by `make messages`)."""
ZH = {
    # menu and page titles
    "Health bookings": "健康服务预约", "Assistance": "紧急救援", "Benefit cost": "增值服务成本",
    "Utilisation": "使用情况", "Benefit catalogue": "增值服务目录", "VIP benefits": "贵宾增值服务",
    "Checkup providers": "体检机构", "Emergency assistance": "全球紧急救援", "Health details": "健康信息详情",
    "Assistance case": "救援案件", "Benefit": "服务项目", "Issue a coupon": "发放优惠券",
    "Book a checkup": "预约体检", "Request an appointment": "预约挂号", "Log an assistance case": "登记救援案件",
    "Benefit cost against premium": "增值服务成本与保费对比", "Which services customers use": "客户实际使用的服务",
    # kinds, periods, states, categories
    "Health checkup": "健康体检", "Appointment booking": "预约挂号", "Partner coupons": "合作商户优惠券",
    "a year": "每年", "a quarter": "每季度", "a month": "每月",
    "Requested": "已申请", "Confirmed": "已确认", "Attended": "已到检", "No-show": "未到检",
    "Booking cancelled": "已取消预约",
    "Medical rescue": "医疗救援", "Evacuation": "紧急转运", "Travel assistance": "旅行援助",
    "Lost passport": "护照遗失", "Lost luggage": "行李遗失", "Security crisis": "安全危机", "Epidemic": "疫情",
    # catalogue
    "version %(v)s": "第 %(v)s 版", "defaults, not saved yet": "默认目录，尚未保存", "Add a benefit": "新增服务项目",
    "Edit a benefit": "修改服务项目", "Code": "代码", "Quota": "额度", "Unit cost": "单位成本",
    "Face value / cover": "面值 / 保障额度", "Edit": "修改", "Remove": "删除", "Reason for the change": "变更原因",
    "No benefits in the catalogue.": "目录中暂无服务项目。", "Cost policy": "成本政策",
    "Save as a new version": "保存为新版本", "Versions": "历史版本",
    "No saved versions: the defaults apply.": "尚无保存的版本：适用默认目录。",
    "Unit cost (CNY)": "单位成本（元）", "Coupon face value (CNY)": "优惠券面值（元）",
    "Cover limit (USD)": "保障额度（美元）", "Cost ceiling (percent of annual premium)": "成本上限（占年缴保费的百分比）",
    "Void unredeemed coupons when a customer leaves the tier": "客户退出该层级时作废未核销的优惠券",
    "Assistance provider": "救援服务机构", "Lower-case letters, digits and _.": "仅限小写字母、数字和下划线。",
    "The catalogue was saved as a new version.": "服务目录已保存为新版本。",
    "Give a reason for the change.": "请填写变更原因。", "Period": "周期",
    # providers and bookings
    "Hospital": "医院", "Package": "体检套餐", "Price": "价格", "Price (CNY)": "价格（元）", "Deactivate": "停用",
    "Activate": "启用", "No checkup providers yet.": "暂无体检机构。", "Add the provider": "添加体检机构",
    "The provider was added.": "体检机构已添加。", "Provider and package": "体检机构及套餐",
    "Preferred date": "预约日期", "Department": "科室", "Book": "预约", "Back": "返回",
    "No checkup providers yet: an administrator adds them.": "暂无体检机构，请系统管理员添加。",
    "The booking was requested.": "预约已提交。", "The booking was updated.": "预约状态已更新。",
    "health booking": "健康服务预约", "No health bookings.": "暂无健康服务预约。",
    "Hospitals and packages are health data: they are shown only on the customer's health details, and every view is logged.":
        "医院和体检套餐属于健康信息：仅在客户的健康信息详情中显示，每次查看均记录审计。",
    "Show health details (logged)": "查看健康信息详情（将记录审计）",
    "This view was written to the audit trail.": "本次查看已记入审计轨迹。",
    "Package or department": "套餐或科室", "Cost": "成本",
    # coupons
    "No active partner merchants yet.": "暂无有效的合作商户。", "Issue": "发放", "Partner merchant": "合作商户",
    "Valid until": "有效期至", "Coupon %(code)s was issued.": "优惠券 %(code)s 已发放。",
    # assistance
    "Open cases": "处理中的案件", "Closed cases": "已结案", "Spend waiting for a risk officer": "待风险管控专员审批的费用",
    "Customer": "客户", "Category": "类别", "Country or region": "国家或地区", "Opened": "立案时间",
    "Age (hours)": "已历时（小时）", "No cases.": "暂无案件。", "Open the case": "立案", "What happened": "事件经过",
    "Spend": "费用", "Note": "备注", "Approve": "通过", "Reject": "拒绝", "No spend yet.": "暂无费用。",
    "Cover limit": "保障额度", "Remaining cover": "剩余保障额度", "Record spend": "记录费用", "Close the case": "结案",
    "Amount (USD)": "金额（美元）", "Membership no.": "会员号", "ended": "已终止", "Not enrolled.": "未登记。",
    "The amount is beyond the remaining cover: it waits for a risk officer's approval.":
        "金额超出剩余保障额度，须经风险管控专员审批。",
    "The spend was recorded.": "费用已记录。", "The decision was recorded.": "审批结果已记录。",
    # cost and use
    "Benefit cost of the 365 days up to %(day)s against the annual premium of in-force policies; the ceiling is %(pct)s%% of the premium.":
        "截至 %(day)s 的 365 天内增值服务成本与有效保单年缴保费之比；上限为保费的 %(pct)s%%。",
    "Customers over the ceiling": "超出成本上限的客户", "Ceiling": "上限",
    "No customer is over the ceiling.": "没有客户超出成本上限。", "Cost by benefit": "按服务项目的成本",
    "No benefit was used yet.": "尚无服务使用记录。",
    "Benefit cost %(cost)s is above the ceiling of %(pct)s%% of the annual premium (%(ceiling)s).":
        "增值服务成本 %(cost)s 超过年缴保费 %(pct)s%% 的上限（%(ceiling)s）。",
    "Left": "剩余", "cover": "保障额度", "stopped": "已停止", "suspended": "已暂停",
    "Cost against premium": "成本与保费", "Benefit cost (12 months)": "增值服务成本（12 个月）",
    "Entitlement ledger": "权益台账",
    "granted": "已授予", "used": "已使用", "expired": "已过期", "issued": "已发放", "redeemed": "已核销",
    "withdrawn": "已收回", "available": "可用", "Per benefit": "按服务项目", "Per partner merchant": "按合作商户",
    "No entitlements yet.": "暂无权益。", "No coupons issued yet.": "尚未发放优惠券。",
}
