"""File documents into a browsable folder tree derived from the catalog, by ordered rules and path templates.

templates (pure: metadata in, a safe relative path out), names (safe names on
Windows and POSIX), rules (conditions, matching, explanations), layout (where
every document belongs, collisions resolved), tree (plan and apply changes on
disk) and filer (ties them to an archive's catalog and settings).
"""
