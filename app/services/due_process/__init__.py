"""Due process: notices made by the event that causes them and kept in an outbox
(`notices`, their words in `notice_texts`), their delivery by mail or letter (`delivery`),
and objections to records with their windows, deadlines and decisions (`objections`)."""
