-- ERP contract (write): one general ledger line, written once: a line with the same source_ref
-- and account already booked is left alone (reruns book nothing twice).
INSERT INTO erp_journal_line (client_id, journal_date, account, debit, credit, text, source_ref)
SELECT :client_id, :journal_date, :account, :debit, :credit, :text, :source_ref
WHERE NOT EXISTS (
    SELECT 1 FROM erp_journal_line WHERE source_ref = :source_ref AND account = :account
)
