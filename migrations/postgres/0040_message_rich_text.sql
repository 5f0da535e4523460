-- A message written in the modal is rich text (mentions, links, styles,
-- lists): it is posted in `blocks` and shown again when the message is
-- edited. `text` keeps its plain rendering in Slack's markup, the post's
-- `text`. NULL for messages written as markup alone (the slash command).
-- The rich text is Slack's JSON of a `rich_text` block, opaque to the store.

ALTER TABLE scheduled_messages ADD COLUMN rich_text TEXT;
