"""Bank payment files of the creditor (Nets OCR giro, Bankgirot BgMax), read into one `BankFile` shape."""
