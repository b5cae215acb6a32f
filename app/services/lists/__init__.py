"""Lists: entering subjects on a list one by one or from a file, and removing an entry
(`entries`); what pages read of the lists and the flags (`queries`), and an official's
audited look at them (`audited`)."""
