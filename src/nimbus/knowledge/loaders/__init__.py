"""Loaders turn a source into a `ParsedSource`: `files.open_file` (PDF, DOCX, HTML, Markdown, text, told apart by
content), `web.fetch_page` and `youtube.fetch_transcript`. All block; call them from a worker thread. Failures are
`SourceError`s with a reason for the user; a source without text raises `NoTextError`, possibly only at the end of
its sections. Sections are produced lazily: close the iterator (`close()`) when stopping early."""
