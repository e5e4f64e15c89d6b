-- smpp-bridge schema, version 2: indexes for the dispatcher's sweeper (docs/pipeline.md).

-- Receipt timeout: parts submitted long ago without a final receipt.
CREATE INDEX message_parts_awaiting_receipt ON message_parts (submitted_at) WHERE state = 'submitted';
