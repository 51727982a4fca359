"""Simplified Chinese for the partners package's strings (merged by `make messages`)."""

ZH = {
    # navigation and pages
    "Redeem coupons": "优惠券核销",
    "Partners": "合作商户",
    "Settlement": "结算",
    "Partner merchants": "合作商户",
    "Settlement report": "结算报表",
    "Coupon": "优惠券",
    "Partner coupons": "合作商户优惠券",
    # categories
    "Dining": "餐饮", "Hotel": "酒店", "Fitness": "健身", "Shopping": "购物", "Entertainment": "娱乐",
    # coupon states
    "Valid": "有效", "Redeemed": "已核销", "Expired": "已过期", "Withdrawn": "已撤回",
    "redeemed": "已核销", "voided": "已撤销",
    # forms
    "Coupon code (type or scan)": "优惠券码（输入或扫码）",
    "Amount used (default: the face value)": "使用金额（默认为面值）",
    "Store": "门店", "Reason": "原因", "Name": "名称", "Category": "类别", "Store code": "门店编号",
    "Store name": "门店名称", "City": "城市", "Cashier's e-mail": "收银员邮箱", "Partner": "合作商户",
    "From": "起始日期", "To": "截止日期",
    # portal
    "Check code": "查验券码",
    "A barcode or QR scanner types the code and presses Enter for you.": "扫码枪会自动输入券码并回车。",
    "Face value": "面值", "Valid until": "有效期至", "Customer": "客户", "Redeem": "核销",
    "Today's redemptions": "今日核销", "Time": "时间", "Code": "券码", "Amount": "金额", "Status": "状态",
    "Void": "撤销", "Void this redemption? The coupon can then be used again.": "确定撤销这笔核销吗？撤销后该券可再次使用。",
    "No redemptions today yet.": "今天还没有核销记录。",
    "Redeemed.": "核销成功。",
    "The redemption was voided; the coupon can be used again.": "已撤销核销，该券可再次使用。",
    "There is no such coupon for your shop.": "本店没有这张优惠券。",
    "This coupon has been redeemed already.": "该优惠券已核销。",
    "This coupon has expired.": "该优惠券已过期。",
    "This coupon was withdrawn and cannot be redeemed.": "该优惠券已撤回，无法核销。",
    "This redemption has been voided already.": "这笔核销已撤销。",
    "The void window (24 hours) of this redemption has closed.": "这笔核销已超过24小时撤销时限。",
    "Some fields are not valid.": "部分字段无效。",
    "This form was sent before with other values; reload the page.": "该表单已用不同内容提交过，请刷新页面。",
    "—": "—",
    # admin
    "Active": "启用", "yes": "是", "no": "否", "No partner merchants yet.": "还没有合作商户。",
    "New partner": "新增合作商户", "Create and show its API key": "创建并显示 API 密钥",
    "API key (shown once; only its hash is kept):": "API 密钥（仅显示一次，系统只保存其哈希值）：",
    "Stores": "门店", "No stores yet.": "还没有门店。", "Add store": "添加门店",
    "Cashiers": "收银员", "No cashiers yet.": "还没有收银员。", "Link cashier": "关联收银员",
    "API keys": "API 密钥", "Prefix": "前缀", "Issued": "签发时间", "Revoked": "吊销时间",
    "Rotate key": "轮换密钥", "Revoke all keys": "吊销全部密钥",
    "Partner %(name)s created.": "合作商户 %(name)s 已创建。",
    "A new API key was issued; the old one no longer works.": "已签发新的 API 密钥，旧密钥已失效。",
    "Every API key of this partner was revoked.": "该商户的全部 API 密钥已吊销。",
    # settlement
    "Show": "查询", "Redemptions": "核销笔数", "Voided": "已撤销", "Face value owed": "应结算面值",
    "Download CSV": "下载 CSV", "Redeemed at": "核销时间", "Voided at": "撤销时间",
    "No redemptions in this period.": "该期间没有核销记录。",
    # customer panel and print page
    "No coupons.": "没有优惠券。", "Print": "打印", "QR code of the coupon": "优惠券二维码",
    "Valid until %(date)s": "有效期至 %(date)s",
    "Show this code at the cashier. Each coupon can be used once.": "请在收银台出示此券码，每张券仅可使用一次。",
}
