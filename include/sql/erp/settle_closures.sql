-- ERP contract (write), settlement booking mode: what the agency collected since a case's
-- previous closure record (staged per closure record as tmp_inbound_closure.settled, øre) is
-- booked on the invoice: the remaining amount goes down, never below zero (more is an
-- over-payment to refund). The status is left alone, even paid to zero: the case may still be
-- open at the agency (partly paid: the invoice stays at collection); once the case has ended,
-- update_ended_invoice_status.sql gives it its status (an invoice already 'paid' or 'credited'
-- keeps it). Set-based.
UPDATE erp_invoice
SET remaining_amount = CASE WHEN erp_invoice.remaining_amount > s.settled
                            THEN erp_invoice.remaining_amount - s.settled ELSE 0 END
FROM tmp_inbound_closure s
WHERE erp_invoice.invoice_id = s.invoice_id AND s.settled > 0
