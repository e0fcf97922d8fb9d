-- Bank import (staging): the payments of one bank file, loaded in bulk (COPY on PostgreSQL)
-- before they are matched and recorded with one INSERT ... SELECT. Dropped after each file.
CREATE TEMPORARY TABLE ink_bank_payment_stage (
    line INTEGER NOT NULL,
    payment_ref VARCHAR(60) NOT NULL,
    payer_account VARCHAR(35) NOT NULL,
    reference VARCHAR(30) NOT NULL,
    amount BIGINT NOT NULL,
    payment_date DATE NOT NULL,
    currency VARCHAR(3) NOT NULL,
    payout_agreement_id VARCHAR(40)
)
