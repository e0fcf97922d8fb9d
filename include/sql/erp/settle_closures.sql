-- ERP contract (write), settlement booking mode: what the agency collected since a case's
-- previous closure record (staged per closure record as tmp_inbound_closure.settled, øre) is
-- booked on the invoice: the remaining amount goes down, never below zero (more is an
-- over-payment to refund); an invoice paid to zero becomes 'paid'. Both CASEs read the invoice
-- as it was before this statement. Set-based.
UPDATE erp_invoice
SET remaining_amount = CASE WHEN erp_invoice.remaining_amount > s.settled
                            THEN erp_invoice.remaining_amount - s.settled ELSE 0 END,
    status = CASE WHEN erp_invoice.remaining_amount <= s.settled THEN 'paid'
                  ELSE erp_invoice.status END
FROM tmp_inbound_closure s
WHERE erp_invoice.invoice_id = s.invoice_id AND s.settled > 0
