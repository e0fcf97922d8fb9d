-- ERP contract (write): the payments of one bank file on invoices (kind 'direct' from the debtor,
-- 'collection' from a bank-mode agency with the invoice's KID) lower their invoices' remaining
-- amount, never below zero: money beyond it stays recorded on the payment and is an
-- over-payment, a refund to handle (the report lists it). A reversal (a negative payment) raises
-- it again, but only by what it takes back beyond that over-payment: the remaining amount is
-- what is owed given all recorded payments, never more (the money check's expected remaining,
-- inkasso/money/books.py). An open invoice paid to zero becomes 'paid'; a reversal re-opens a
-- paid one ('open'; 'collection_ended' when its case has ended, which
-- update_ended_invoice_status.sql then refines). An invoice at collection keeps its status: a
-- direct payment is reported to the agency by inkasso_corrections. A 'credited' invoice (a
-- credit note or recall took all of it off) is booked too and stays 'credited' at zero: money
-- paid on it is an over-payment (the report and the money check list it); a reversal of money
-- paid before the credit makes it owed again ('open', or an ended case's status). Every
-- invoice the ERP contract names is booked: no payment is recorded on an invoice whose
-- remaining amount then ignores it. Set-based.
--
-- The over-payment an invoice held before this file (over_paid) only matters for a reversal on
-- an invoice at zero, so it is worked out for those few only: what the recorded payments (all
-- but this file's) and credit notes / recalls / write-offs took off, beyond what was owed when
-- counting began: the amount its latest case sent, counting from when the case was opened (as
-- the money check does), or for an invoice never sent to collection its original amount.
WITH reversed AS (
    -- the invoices at zero on which this file reverses money, with their latest case if any
    SELECT i.invoice_id, COALESCE(k.sent_amount, i.original_amount) AS owed,
           k.case_id, k.opened_at, k.business_date,
           CASE WHEN k.is_open = :no AND k.status IN ('paid', 'closed', 'recalled', 'uncollectible')
                THEN 1 ELSE 0 END AS case_ended
    FROM erp_invoice i
    LEFT JOIN ink_case k ON k.invoice_id = i.invoice_id
        AND NOT EXISTS (SELECT 1 FROM ink_case k2
                        WHERE k2.invoice_id = k.invoice_id AND k2.case_id > k.case_id)
    WHERE i.remaining_amount <= 0 AND i.invoice_id IN (
        SELECT invoice_id FROM ink_bank_payment_match
        WHERE kind IN ('direct', 'collection')
          -- (a sum below zero needs a payment below zero: the few such invoices are summed,
          -- not every invoice of the file)
          AND invoice_id IN (SELECT invoice_id FROM ink_bank_payment_match
                             WHERE kind IN ('direct', 'collection') AND amount < 0)
        GROUP BY invoice_id HAVING SUM(amount) < 0)
)
UPDATE erp_invoice
SET remaining_amount = CASE WHEN erp_invoice.remaining_amount - p.over_paid > p.paid
                            THEN erp_invoice.remaining_amount - p.over_paid - p.paid
                            ELSE 0 END,
    status = CASE WHEN erp_invoice.status IN ('at_collection', 'payout_pending', 'collection_ended')
                  THEN erp_invoice.status
                  WHEN erp_invoice.remaining_amount - p.over_paid <= p.paid
                      THEN CASE WHEN erp_invoice.status = 'credited' THEN 'credited' ELSE 'paid' END
                  WHEN p.case_ended = 1 THEN 'collection_ended'
                  ELSE 'open' END
FROM (
    -- the file's payments as matched in ink_bank_payment_match (what insert_bank_payments.sql
    -- recorded), summed per invoice over the whole file, with the over-payment held before it
    SELECT f.invoice_id, f.paid, COALESCE(o.over_paid, 0) AS over_paid,
           COALESCE(o.case_ended, 0) AS case_ended
    FROM (
        SELECT invoice_id, SUM(amount) AS paid
        FROM ink_bank_payment_match
        WHERE kind IN ('direct', 'collection')
        GROUP BY invoice_id
    ) f
    LEFT JOIN (
        SELECT r.invoice_id, r.case_ended,
               CASE WHEN COALESCE(pay.amount, 0) + COALESCE(adj.amount, 0) > r.owed
                    THEN COALESCE(pay.amount, 0) + COALESCE(adj.amount, 0) - r.owed
                    ELSE 0 END AS over_paid
        FROM reversed r
        LEFT JOIN (
            -- what earlier payments took off (the money check's direct + collected_booked)
            SELECT r.invoice_id, SUM(x.amount) AS amount
            FROM reversed r
            JOIN erp_payment x ON x.invoice_id = r.invoice_id
            WHERE (x.kind = 'direct' OR x.method = 'collection')
              AND x.bank_file <> :bank_file
              AND (r.case_id IS NULL OR x.booked_at >= r.opened_at)
            GROUP BY r.invoice_id
        ) pay ON pay.invoice_id = r.invoice_id
        LEFT JOIN (
            -- what credit notes, recalls and write-offs took off (after the case was sent)
            SELECT r.invoice_id, SUM(ABS(a.amount)) AS amount
            FROM reversed r
            JOIN erp_invoice_adjustment a ON a.invoice_id = r.invoice_id
            WHERE a.kind IN ('credit_note', 'recall', 'write_off')
              AND (r.case_id IS NULL
                   OR COALESCE(a.booked_at >= r.opened_at, a.adjustment_date >= r.business_date))
            GROUP BY r.invoice_id
        ) adj ON adj.invoice_id = r.invoice_id
    ) o ON o.invoice_id = f.invoice_id
) p
WHERE erp_invoice.invoice_id = p.invoice_id
  AND erp_invoice.status IN ('open', 'paid', 'credited', 'at_collection', 'payout_pending',
                             'collection_ended')
