-- Bank import (read): the lump payouts of one bank file from agreements in settlement mode (few
-- rows per file), to be booked bank debit / interim account credit.
SELECT p.payment_id, p.amount, p.payment_date, m.payout_agreement_id AS agreement_id,
       a.agency, a.interim_account
FROM ink_bank_payment_match m
JOIN ink_agreement a ON a.agreement_id = m.payout_agreement_id
JOIN erp_payment p ON p.bank_file = :bank_file AND p.payment_ref = m.payment_ref
WHERE a.booking_mode = 'settlement'
  AND p.client_id = :client_id
ORDER BY p.payment_id
