-- The schema the first release made with create_all (before migrations), SQLite.
CREATE TABLE inquiries (
	id INTEGER NOT NULL, 
	source VARCHAR(32) NOT NULL, 
	external_id VARCHAR(200), 
	text TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	label VARCHAR(16) NOT NULL, 
	confidence FLOAT NOT NULL, 
	probabilities JSON NOT NULL, 
	needs_review BOOLEAN NOT NULL, 
	model_version VARCHAR(80) NOT NULL, 
	classified_at DATETIME NOT NULL, 
	handled BOOLEAN NOT NULL, 
	handled_at DATETIME, 
	handled_by VARCHAR(80), 
	PRIMARY KEY (id), 
	CONSTRAINT uq_inquiry_source_external_id UNIQUE (source, external_id)
);
CREATE INDEX ix_inquiries_handled ON inquiries (handled);
CREATE INDEX ix_inquiries_received_at ON inquiries (received_at);
CREATE INDEX ix_inquiries_source ON inquiries (source);
CREATE INDEX ix_inquiries_label ON inquiries (label);
CREATE TABLE users (
	id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	disabled BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE api_tokens (
	id INTEGER NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	UNIQUE (token_hash)
);
CREATE TABLE training_jobs (
	id INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	progress TEXT NOT NULL, 
	started_by VARCHAR(80) NOT NULL, 
	filename VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	version VARCHAR(80), 
	result JSON, 
	error TEXT, 
	PRIMARY KEY (id)
);
CREATE TABLE corrections (
	id INTEGER NOT NULL, 
	inquiry_id INTEGER NOT NULL, 
	label VARCHAR(16) NOT NULL, 
	agent VARCHAR(80) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(inquiry_id) REFERENCES inquiries (id) ON DELETE CASCADE
);
CREATE INDEX ix_corrections_created_at ON corrections (created_at);
CREATE INDEX ix_corrections_inquiry_id ON corrections (inquiry_id);
