-- ERP contract (write), settlement booking mode: two general ledger lines per settled closure
-- record (staged in tmp_inbound_closure): debit the agreement's interim account, credit
-- receivables. source_ref 'closure:<file_id>:<case_id>'; the file is applied exactly once.
INSERT INTO erp_journal_line (client_id, journal_date, account, debit, credit, text, invoice_id,
                              source_ref)
SELECT :client_id, s.closure_date, a.account,
       CASE WHEN a.side = 0 THEN s.settled ELSE 0 END,
       CASE WHEN a.side = 1 THEN s.settled ELSE 0 END,
       SUBSTR(:agency || ' ' || s.new_status || ' case ' || CAST(s.case_id AS VARCHAR(12))
              || ' (' || :file_name || ')', 1, 200),
       s.invoice_id,
       'closure:' || CAST(:file_id AS VARCHAR(12)) || ':' || CAST(s.case_id AS VARCHAR(12))
FROM tmp_inbound_closure s
CROSS JOIN (SELECT 0 AS side, :interim_account AS account
            UNION ALL SELECT 1, :receivables_account) a
WHERE s.settled > 0
ORDER BY s.seq, a.side
