-- ERP contract (write): the status an invoice gets once its case has ended (the case's agency
-- closed it as paid, closed, recalled or uncollectible), and again whenever money moves on it:
--   'paid'             nothing left to pay (recalled and nothing left: 'credited');
--   'payout_pending'   the ERP still shows more than the agency says is owed: the agency
--                      collected money whose payout has not reached the bank file yet
--                      (bank mode); the bank import books it and moves the invoice on;
--   'collection_ended' money is still owed and the agency has stopped: a person decides
--                      (write it off as a credit loss, send it again, ...); the report lists it.
-- Only the invoice's latest case counts; only invoices of one client. Set-based.
UPDATE erp_invoice
SET status = CASE
        WHEN erp_invoice.remaining_amount <= 0 AND k.status = 'recalled' THEN 'credited'
        WHEN erp_invoice.remaining_amount <= 0 THEN 'paid'
        WHEN erp_invoice.remaining_amount > COALESCE(k.closed_remaining_amount, 0)
            THEN 'payout_pending'
        ELSE 'collection_ended' END
FROM ink_case k
WHERE k.invoice_id = erp_invoice.invoice_id
  AND erp_invoice.client_id = :client_id
  AND erp_invoice.status IN ('at_collection', 'payout_pending', 'collection_ended')
  AND k.is_open = :no
  AND k.status IN ('paid', 'closed', 'recalled', 'uncollectible')
  -- only invoices whose status changes: one that already has it is not written again (the
  -- statement runs after every closure file and bank file, over all of the client's invoices)
  AND erp_invoice.status <> CASE
        WHEN erp_invoice.remaining_amount <= 0 AND k.status = 'recalled' THEN 'credited'
        WHEN erp_invoice.remaining_amount <= 0 THEN 'paid'
        WHEN erp_invoice.remaining_amount > COALESCE(k.closed_remaining_amount, 0)
            THEN 'payout_pending'
        ELSE 'collection_ended' END
  -- the latest case: none later for the invoice (an anti-join the planner can hash; a correlated
  -- MAX() ran once per row and went quadratic on tables without statistics)
  AND NOT EXISTS (
      SELECT 1 FROM ink_case k2 WHERE k2.invoice_id = k.invoice_id AND k2.case_id > k.case_id)
