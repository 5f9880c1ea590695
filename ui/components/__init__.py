"""The pieces of the Nimbus Streamlit page."""
