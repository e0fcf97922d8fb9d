-- ERP contract (read): the client's collection settings.
SELECT client_id, name, org_no, country, currency, min_collection_amount,
       default_bank_account, register_lookup, report_recipients
FROM erp_client
WHERE client_id = :client_id
