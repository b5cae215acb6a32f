"""A subject's file, as the resident's page and an official's page show it: the
standing on a date with its arithmetic (`standing`), each record's state and next step of
due process (`due_process`), and the points over time with what changes next (`chart`).
An official's look at a file is audited."""
