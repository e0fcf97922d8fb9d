-- ERP contract (read): direct payments (the debtor paid the creditor, not the agency) on invoices
-- with an open case of one agreement, not yet reported to the agency (ink_correction).
-- Only payments the ERP booked after the case was sent: earlier ones were already subtracted from
-- the amount sent. Dated up to the through date (the run's business day). Reversals are negative.
SELECT k.case_id, k.agreement_id, p.payment_id AS source_id, p.amount,
       p.payment_date AS correction_date
FROM erp_payment p
JOIN ink_case k ON k.invoice_id = p.invoice_id AND k.is_open = :yes
WHERE k.agreement_id = :agreement_id
  AND p.kind = 'direct'
  AND p.payment_date <= :through
  AND p.booked_at >= k.opened_at
  AND NOT EXISTS (
      SELECT 1 FROM ink_correction c WHERE c.source = 'payment' AND c.source_id = p.payment_id
  )
