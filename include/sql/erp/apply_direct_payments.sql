-- ERP contract (write): the payments of one bank file on invoices (kind 'direct' from the debtor,
-- 'collection' from a bank-mode agency with the invoice's KID) lower their invoices' remaining
-- amount, never below zero: money beyond it stays recorded on the payment and is an
-- over-payment, a refund to handle (the report lists it). An open invoice paid to zero becomes
-- 'paid' (a reversal re-opens a paid one). An invoice at collection keeps its status: a direct
-- payment is reported to the agency by inkasso_corrections. Invoices whose case has ended get
-- their status from update_ended_invoice_status.sql afterwards. Set-based.
UPDATE erp_invoice
SET remaining_amount = CASE WHEN erp_invoice.remaining_amount > p.paid
                            THEN erp_invoice.remaining_amount - p.paid ELSE 0 END,
    status = CASE WHEN erp_invoice.status IN ('at_collection', 'payout_pending', 'collection_ended')
                  THEN erp_invoice.status
                  WHEN erp_invoice.remaining_amount > p.paid THEN 'open'
                  ELSE 'paid' END
FROM (
    -- the file's payments as matched in ink_bank_payment_match (what insert_bank_payments.sql
    -- recorded), summed per invoice over the whole file
    SELECT invoice_id, SUM(amount) AS paid
    FROM ink_bank_payment_match
    WHERE kind IN ('direct', 'collection')
    GROUP BY invoice_id
) p
WHERE erp_invoice.invoice_id = p.invoice_id
  AND erp_invoice.status IN ('open', 'paid', 'at_collection', 'payout_pending', 'collection_ended')
