-- ERP contract (write): the direct payments of one bank file lower their invoices' remaining
-- amount (never below zero: an overpayment stays recorded on the payment). An open invoice paid
-- to zero becomes 'paid' (a reversal re-opens a paid one). An invoice at collection keeps its
-- status: the payment is reported to the agency by inkasso_corrections. Set-based.
UPDATE erp_invoice
SET remaining_amount = CASE WHEN erp_invoice.remaining_amount > p.paid
                            THEN erp_invoice.remaining_amount - p.paid ELSE 0 END,
    status = CASE WHEN erp_invoice.status = 'at_collection' THEN 'at_collection'
                  WHEN erp_invoice.remaining_amount > p.paid THEN 'open'
                  ELSE 'paid' END
FROM (
    SELECT invoice_id, SUM(amount) AS paid
    FROM erp_payment
    WHERE bank_file = :bank_file AND client_id = :client_id AND kind = 'direct'
    GROUP BY invoice_id
) p
WHERE erp_invoice.invoice_id = p.invoice_id
  AND erp_invoice.status IN ('open', 'paid', 'at_collection')
