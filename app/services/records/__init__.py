"""Records: recording conduct one by one or from a file, with points fixed once
(`conduct`), an import's new records stored set-based (`bulk`); voids and repairs, which
end a record's effect without editing it (`corrections`)."""
