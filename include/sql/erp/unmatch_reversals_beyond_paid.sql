-- Bank import (staging): a reversal (a payment below zero) that would take back more than its
-- invoice was ever paid is not booked on the invoice. With nothing, or less, to take back it
-- would raise the claim above what the debtor owes, and on an invoice at collection it would
-- be reported to the agency as more to collect. Such an invoice's payments below zero in the
-- file wait 'unmatched' instead, for a person to allocate (the day's mail lists them).
-- Paid: every payment recorded on the invoice before this file (direct, or an agency's
-- collection by KID) and this file's. Only the invoices with a payment below zero in the file
-- are summed.
UPDATE ink_bank_payment_match
SET kind = 'unmatched', invoice_id = NULL
WHERE amount < 0
  AND kind IN ('direct', 'collection')
  AND invoice_id IN (
      SELECT f.invoice_id
      FROM (
          SELECT invoice_id, SUM(amount) AS amount
          FROM ink_bank_payment_match
          WHERE kind IN ('direct', 'collection')
            AND invoice_id IN (SELECT invoice_id FROM ink_bank_payment_match
                               WHERE amount < 0 AND kind IN ('direct', 'collection'))
          GROUP BY invoice_id
      ) f
      LEFT JOIN (
          SELECT x.invoice_id, SUM(x.amount) AS amount
          FROM erp_payment x
          WHERE (x.kind = 'direct' OR x.method = 'collection')
            AND x.invoice_id IN (SELECT invoice_id FROM ink_bank_payment_match
                                 WHERE amount < 0 AND kind IN ('direct', 'collection'))
          GROUP BY x.invoice_id
      ) earlier ON earlier.invoice_id = f.invoice_id
      WHERE COALESCE(earlier.amount, 0) + f.amount < 0
  )
