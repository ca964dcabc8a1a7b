"""What happens to a page once it is fetched: the items (items), HTML to clean text (extract,
article and its helpers, the worker pool), clean text into the archive (store_text, over
storage.texts), the item feeds get (output_item), and the bridges the crawl's components share
(signals, run_id, writer_thread, twisted_util, text_numbers). Imports storage, never crawler."""
