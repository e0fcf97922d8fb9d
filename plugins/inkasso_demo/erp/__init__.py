"""The demo ERP: a deterministic generator of clients, agreements, customers and invoices.

``create_demo_erp`` fills an empty database; ``simulate_erp_day`` plays one day of the ERP's own
activity (new invoices, payments, reminders, marking for collection). Both are reproducible from
their seed, so the demo, the tests and the benchmarks see the same data every time.
"""

from inkasso_demo.erp.generator import (
    DemoErpExistsError,
    create_demo_erp,
    demo_erp_exists,
    simulate_erp_day,
)

__all__ = ["DemoErpExistsError", "create_demo_erp", "demo_erp_exists", "simulate_erp_day"]
