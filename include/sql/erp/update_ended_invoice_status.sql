-- ERP contract (write): the status an invoice gets once its case has ended (the case's agency
-- closed it as paid, closed, recalled or uncollectible), and again whenever money moves on it:
--   'paid'             nothing left to pay (recalled and nothing left: 'credited');
--   'payout_pending'   money is still owed and the agency collected money that has not
--                      reached the invoice yet (bank mode: its KID payout is on its way, also
--                      when the debtor paid the creditor the rest meanwhile); the bank import
--                      books it and moves it on;
--   'collection_ended' money is still owed and the agency has stopped, with no payout on its
--                      way (whatever made it owed: the agency's remaining amount, a bank
--                      reversal of a payment after the case ended): a person decides (write
--                      it off as a credit loss, settle it with the agency, ...); the report
--                      lists it.
-- Only the invoice's latest case counts; only invoices of one client. Set-based.
-- What reached the invoice from the agency (the money check's collected_booked) is read from
-- the pipeline's own records, by the case's indexed key, and only for a case whose agency
-- collected something: what settlement mode booked at each closure
-- (ink_collection.booked_amount) and the KID payouts a bank-mode agency paid for the case
-- (ink_payout). Never a join of the ERP's payments, which has no index by invoice: with the
-- statistics of a big closure file not yet known, the planner would scan it once per case.
UPDATE erp_invoice
SET status = CASE
        WHEN erp_invoice.remaining_amount <= 0 AND k.status = 'recalled' THEN 'credited'
        WHEN erp_invoice.remaining_amount <= 0 THEN 'paid'
        WHEN k.collected_amount > 0
             AND k.collected_amount
                 > COALESCE((SELECT SUM(c.booked_amount) FROM ink_collection c
                             WHERE c.case_id = k.case_id), 0)
                   + COALESCE((SELECT SUM(o.amount) FROM ink_payout o
                               WHERE o.case_id = k.case_id), 0)
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
        WHEN k.collected_amount > 0
             AND k.collected_amount
                 > COALESCE((SELECT SUM(c.booked_amount) FROM ink_collection c
                             WHERE c.case_id = k.case_id), 0)
                   + COALESCE((SELECT SUM(o.amount) FROM ink_payout o
                               WHERE o.case_id = k.case_id), 0)
            THEN 'payout_pending'
        ELSE 'collection_ended' END
  -- the latest case: none later for the invoice (an anti-join the planner can hash; a correlated
  -- MAX() ran once per row and went quadratic on tables without statistics)
  AND NOT EXISTS (
      SELECT 1 FROM ink_case k2 WHERE k2.invoice_id = k.invoice_id AND k2.case_id > k.case_id)
