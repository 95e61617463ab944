"""主管工作台 (issue #16): 订单健康度 charts, drill-through and the weekly report."""
