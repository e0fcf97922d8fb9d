-- ERP contract (write): record the payments of one bank file (staged in ink_bank_payment_stage),
-- matched to the client's invoices by KID / OCR reference in one set-based statement.
-- kind: 'agency_payout' (payer account is an agency's account: not a payment on an invoice),
-- 'direct' (the reference is an invoice's KID), else 'unmatched'.
INSERT INTO erp_payment (client_id, invoice_id, bank_file, payment_ref, payer_account, reference,
                         amount, payment_date, kind, method, booked_at)
SELECT :client_id,
       CASE WHEN s.payout_agreement_id IS NULL THEN m.invoice_id END,
       :bank_file, s.payment_ref, s.payer_account, s.reference, s.amount, s.payment_date,
       CASE WHEN s.payout_agreement_id IS NOT NULL THEN 'agency_payout'
            WHEN m.invoice_id IS NOT NULL THEN 'direct'
            ELSE 'unmatched' END,
       'bank', :booked_at
FROM ink_bank_payment_stage s
LEFT JOIN (
    SELECT kid, MIN(invoice_id) AS invoice_id
    FROM erp_invoice
    WHERE client_id = :client_id
      AND kid IN (SELECT reference FROM ink_bank_payment_stage WHERE reference <> '')
    GROUP BY kid
) m ON m.kid = s.reference
ORDER BY s.line
