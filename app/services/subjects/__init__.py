"""The population register: importing and updating subjects, registering one, finding
them (`register`); a subject's consent to be scored and where their notices go
(`consent`)."""
