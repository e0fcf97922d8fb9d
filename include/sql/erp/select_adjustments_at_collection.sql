-- ERP contract (read): credit notes and recalls (a credit loss with "recall from collection") on
-- invoices with an open case of one agreement, not yet reported to the agency (ink_correction).
-- Those the ERP registered after the case was sent (booked_at), whatever date they carry: a
-- back-dated credit note is reported too, never skipped (an ERP without booked_at: dated from
-- the day the case was sent). Dated up to the through date (the run's business day). The amount
-- is reported as a reduction of the claim, whichever sign the ERP stores it with.
SELECT k.case_id, k.agreement_id, a.adjustment_id AS source_id, a.kind,
       ABS(a.amount) AS amount, a.adjustment_date AS correction_date
FROM erp_invoice_adjustment a
JOIN ink_case k ON k.invoice_id = a.invoice_id AND k.is_open = :yes
WHERE k.agreement_id = :agreement_id
  AND a.kind IN ('credit_note', 'recall')
  AND a.adjustment_date <= :through
  AND COALESCE(a.booked_at >= k.opened_at, a.adjustment_date >= k.business_date)
  AND NOT EXISTS (
      SELECT 1 FROM ink_correction c WHERE c.source = 'adjustment' AND c.source_id = a.adjustment_id
  )
