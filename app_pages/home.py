"""Home: the questions people ask about VAE reconstruction losses, each linked to its answer."""

import streamlit as st

from ui.questions import QUESTIONS

st.title("Likelihood Lab")
st.markdown(
    "Why is a VAE's reconstruction loss what it is? Every answer here comes two ways: a "
    "**derivation** in which SymPy checks each step (an identity, or dropping a term that does "
    "not depend on what the decoder outputs), and a **lab** where you train a small VAE and "
    "watch what σ and the choice of likelihood do."
)
st.subheader("Questions people ask")
st.caption("Each link opens the page that answers it, at the section that does.")
for question in QUESTIONS:
    with st.container(border=True):
        st.page_link(
            question.page.path,
            label=question.text,
            icon=":material/arrow_forward:",
            query_params={"q": question.key},
        )
        st.caption(question.answer)
