-- Bank import (staging): per agreement a payout is staged with (the first of the agreements paid
-- from one agency account: active before inactive, then by id), every agreement paid from that
-- account, itself included. create_bank_payment_match.sql gives a payout by an invoice's KID to
-- the agreement of the invoice's latest case among them. A few rows; dropped after each file.
CREATE TEMPORARY TABLE ink_bank_payout_group (
    payout_agreement_id VARCHAR(40) NOT NULL,
    agreement_id VARCHAR(40) NOT NULL
)
