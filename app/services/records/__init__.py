"""Records: recording conduct one by one or from a file, with points fixed once
(`conduct`); voids and repairs, which end a record's effect without editing it
(`corrections`)."""
