-- ERP contract (read): money that moved on an invoice after its case with one agreement ended
-- (the agency closed it as paid, closed, recalled or uncollectible): direct payments, credit
-- notes, recalls and write-offs the ERP registered after the case was sent, dated up to the
-- through date, never reported to the agency (ink_correction) nor recorded as such before
-- (ink_after_closure). Only the invoice's latest case counts.
-- ``ended`` is written once for both kinds of event; NOT MATERIALIZED keeps it inlined in each
-- half (PostgreSQL 12+, SQLite 3.35+), so each join uses the indexes as a written-out filter would.
WITH ended AS NOT MATERIALIZED (
    SELECT k.case_id, k.invoice_id, k.opened_at, k.business_date
    FROM ink_case k
    WHERE k.agreement_id = :agreement_id
      AND k.is_open = :no
      AND k.status IN ('paid', 'closed', 'recalled', 'uncollectible')
      AND NOT EXISTS (  -- the invoice's latest case (an anti-join, not a MAX() per row)
          SELECT 1 FROM ink_case k2 WHERE k2.invoice_id = k.invoice_id AND k2.case_id > k.case_id)
)
SELECT k.case_id, k.invoice_id, 'payment' AS source, p.payment_id AS source_id,
       'direct_payment' AS kind, p.amount AS amount, p.payment_date AS event_date
FROM erp_payment p
JOIN ended k ON k.invoice_id = p.invoice_id
WHERE p.kind = 'direct'
  AND p.booked_at >= k.opened_at
  AND p.payment_date <= :through
  AND NOT EXISTS (SELECT 1 FROM ink_correction c
                  WHERE c.source = 'payment' AND c.source_id = p.payment_id)
  AND NOT EXISTS (SELECT 1 FROM ink_after_closure e
                  WHERE e.source = 'payment' AND e.source_id = p.payment_id)
UNION ALL
SELECT k.case_id, k.invoice_id, 'adjustment' AS source, a.adjustment_id AS source_id,
       CASE WHEN a.kind = 'credit_note' THEN 'credit_note' ELSE a.kind END AS kind,
       ABS(a.amount) AS amount, a.adjustment_date AS event_date
FROM erp_invoice_adjustment a
JOIN ended k ON k.invoice_id = a.invoice_id
WHERE a.kind IN ('credit_note', 'recall', 'write_off')
  AND COALESCE(a.booked_at >= k.opened_at, a.adjustment_date >= k.business_date)
  AND a.adjustment_date <= :through
  AND NOT EXISTS (SELECT 1 FROM ink_correction c
                  WHERE c.source = 'adjustment' AND c.source_id = a.adjustment_id)
  AND NOT EXISTS (SELECT 1 FROM ink_after_closure e
                  WHERE e.source = 'adjustment' AND e.source_id = a.adjustment_id)
ORDER BY 1, 7, 4
