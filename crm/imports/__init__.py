"""Import jobs: an uploaded CSV stored and queued for the scheduler process, which imports it
(all or nothing, crm.importer) and records the outcome for the upload's page."""
