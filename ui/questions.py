"""The questions learners ask, each linked to the page section that answers it.

Plain data (no Streamlit): the home page lists these, each target page greets a visitor who came
from one (`?q=<key>`), and a test checks that every link points at a real page and section.
Sources: ../shared/questions/ (real Q&A threads, slips included) and the usual forum staples.
"""

from __future__ import annotations

from dataclasses import dataclass

from ui import pages


@dataclass(frozen=True)
class Question:
    key: str  # stable id, used as ?q=<key>
    text: str
    page: pages.PageSpec
    anchor: str  # section anchor on that page
    answer: str  # one-sentence answer shown on both ends
    source: str = ""  # which shared question (or "common") raised it


QUESTIONS: tuple[Question, ...] = (
    Question(
        "check-my-step",
        "I am stuck mid-derivation. Is my step right?",
        pages.CHECKER,
        "check",
        "Type it in: the checker says whether it equals any step of any derivation here, equals "
        "it up to a constant, is a multiple of it, or differs (with a point where it does).",
        "02-expanding-log-gaussian-to-mse",
    ),
    Question(
        "mse-valid",
        "Is MSE a valid ELBO term, or just a heuristic?",
        pages.GAUSSIAN,
        "to-mse",
        "Valid with the right KL weight. MSE is −log N(x; μ, σ²I) for a fixed σ with constants "
        "dropped and 1/(2σ²) divided out, which alone leaves the best μ where it was; but the "
        "KL is not divided too, so the VAE's optimum moves unless the KL is weighted by 2σ² "
        "(summed error) or 2σ²/D (mean error). Plain MSE + KL is the ELBO with σ² = D/2.",
        "01-is-mse-a-valid-elbo-term",
    ),
    Question(
        "constants",
        "Where do the constants go when log N(x; μ, σ²I) becomes MSE?",
        pages.GAUSSIAN,
        "dropped-constants",
        "−D/2·log 2π − D·log σ do not depend on the decoder's output μ, so they shift the "
        "objective without moving its maximum; the page shows their value for your σ and D.",
        "02-expanding-log-gaussian-to-mse",
    ),
    Question(
        "log-sigma-slip",
        "After taking the log I get −½·Σσᵢ². How do I finish the derivation?",
        pages.GAUSSIAN,
        "per-pixel-sigma",
        "The term is −½·Σ log σᵢ² (minus half the log-determinant of the covariance), not "
        "−½·Σσᵢ². With one fixed σ it is constant and drops; with learned σᵢ it stays in the "
        "loss.",
        "02-expanding-log-gaussian-to-mse",
    ),
    Question(
        "what-is-y-hat",
        "In Σ(xᵢ − μᵢ)², which is the label and which is the prediction?",
        pages.GAUSSIAN,
        "to-mse",
        "xᵢ is pixel i of the input image (the 'label'); μᵢ is the decoder's output for it "
        "(the 'prediction'), the mean of p(x|z). No sample is drawn from the decoder in training.",
        "02-expanding-log-gaussian-to-mse",
    ),
    Question(
        "recon-term-to-mse",
        "How does E_q[log p(x|z)] turn into an MSE in code?",
        pages.ELBO,
        "reconstruction-term",
        "Draw one z from q(z|x) (reparameterised), decode it to μ, and evaluate log N(x; μ, σ²I); "
        "the expectation is that single-sample average, and the Gaussian log-density is −SSE/(2σ²) "
        "plus constants.",
        "03-reconstruction-error-to-mse",
    ),
    Question(
        "learning-rate",
        "Is the 1/(2σ²) just a learning rate I can absorb?",
        pages.ELBO,
        "beta",
        "No. It scales the reconstruction term only, not the KL, so it sets their ratio: the "
        "fixed-σ ELBO is the β-VAE objective SSE + β·KL with β = 2σ². It is a KL weight.",
        "03-reconstruction-error-to-mse",
    ),
    Question(
        "gradient",
        "The gradient of log N is the MSE gradient times a constant. So why does σ matter?",
        pages.GAUSSIAN,
        "gradient",
        "Alone, the factor D/(2σ²) only rescales the step (a learning rate under plain SGD; "
        "Adam divides it out); next to the KL term it changes which way the sum of the two "
        "gradients points, under any optimiser.",
        "03-reconstruction-error-to-mse",
    ),
    Question(
        "kl-sign",
        "Is the ELBO E_q[log p(x|z)] + KL(q‖p)?",
        pages.ELBO,
        "sign",
        "No: ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)). The KL is subtracted; the loss you "
        "minimise is −ELBO = reconstruction loss + KL.",
        "01-is-mse-a-valid-elbo-term",
    ),
    Question(
        "bce-grey",
        "Why do people use BCE on images that are not binary?",
        pages.BERNOULLI,
        "continuous-bernoulli",
        "Because it trains, but on grey pixels BCE is not a normalised log-likelihood: the "
        "continuous Bernoulli adds log C(λ), which depends on λ and so cannot be dropped.",
        "04-mse-bce-huber-as-elbo",
    ),
    Question(
        "mse-vs-bce",
        "MSE or BCE: which reconstruction loss should my VAE use?",
        pages.BERNOULLI,
        "bce",
        "Each is a choice of p(x|z): MSE is a Gaussian, BCE a Bernoulli (binary data). Compare "
        "them only through a proper likelihood, e.g. bits/dim of discretised data in the lab.",
        "04-mse-bce-huber-as-elbo",
    ),
    Question(
        "huber",
        "Can I use Huber (or L1) loss as the reconstruction term?",
        pages.LAPLACE_HUBER,
        "huber",
        "Yes: L1 is a Laplace likelihood and Huber is the density exp(−ρ_α(r/b))/(b·Z(α)), "
        "whose normaliser Z is finite and has a closed form; the loss's 1/b² is a KL weight.",
        "04-mse-bce-huber-as-elbo",
    ),
    Question(
        "single-sample",
        "The TensorFlow tutorial uses log p(x|z) + log p(z) − log q(z|x). Is that the ELBO?",
        pages.KL,
        "monte-carlo",
        "It is a single-sample Monte-Carlo estimate of it, unbiased. Its KL part alone is "
        "noisier than the closed form, but the whole estimate need not be: log q's noise can "
        "cancel log p(x, z)'s, to zero variance when q is the true posterior (Roeder et al. "
        "2017). It needs no closed-form KL, so it works for any prior or posterior.",
        "04-mse-bce-huber-as-elbo",
    ),
    Question(
        "kl-closed-form",
        "Where does −½·Σ(1 + log σ² − μ² − σ²) come from?",
        pages.KL,
        "closed-form",
        "It is KL(N(μ, σ²) ‖ N(0, 1)) in closed form, summed over latent dimensions.",
        "02-expanding-log-gaussian-to-mse",
    ),
    Question(
        "sum-vs-mean",
        "Should the reconstruction loss be summed or averaged over pixels?",
        pages.GAUSSIAN,
        "sum-vs-mean",
        "The log-likelihood sums over pixels. Averaging divides it by D, which next to a summed "
        "KL is the same as multiplying β by D.",
        "common",
    ),
    Question(
        "blurry",
        "Why are my VAE's reconstructions blurry?",
        pages.IMPLIED_SIGMA,
        "result",
        "Often because σ is implicitly large: F.mse_loss averages over pixels while the KL is "
        "summed, which is σ² = D/2 (σ ≈ 19.8 on MNIST). But not only: even with a sensible σ, "
        "a factorised decoder shows E[x|z], an average over every image the encoder's "
        "uncertainty about z cannot tell apart. Set your reductions to see your σ.",
        "common",
    ),
    Question(
        "weight-bce-kl",
        "How should I weight the reconstruction loss against the KL?",
        pages.IMPLIED_SIGMA,
        "snippets",
        "The ELBO fixes the weight once the likelihood is chosen: with summed terms, a Gaussian "
        "decoder puts 1/(2σ²) on the SSE and 1 on the KL. The calculator shows what yours does.",
        "common",
    ),
    Question(
        "kl-zero",
        "My KL goes to zero and the latents are ignored. Is the ELBO to blame?",
        pages.COLLAPSE,
        "spectrum",
        "For a linear VAE the ELBO's optimum collapses exactly the directions whose data variance "
        "λᵢ is below σ²: the decoder noise decides, and the page shows theory and training agree.",
        "01-is-mse-a-valid-elbo-term",
    ),
    Question(
        "mean-or-sample",
        "Should the decoder's output be the mean or a sample? And which z: μ(x) or a sample?",
        pages.TEST_TIME,
        "side-by-side",
        "Both choices side by side on your lab model: the mean is the reconstruction (and the "
        "mode for a Gaussian, not for a Bernoulli); a sample of p(x|z) adds per-pixel noise. "
        "The ELBO, IWAE and bits/dim score the real x at z ~ q(z|x); only the MSE uses a "
        "picture, the mean at z = μ(x).",
        "01-is-mse-a-valid-elbo-term",
    ),
    Question(
        "metrics-use",
        "Is the loss computed on a sample from the decoder, or on its mean?",
        pages.TEST_TIME,
        "metrics",
        "On neither picture: training scores the real x under p(x|z) at a sampled z, and μ "
        "enters only as the Gaussian's mean. No sample is drawn from p(x|z) in training.",
        "02-expanding-log-gaussian-to-mse",
    ),
    Question(
        "bound-gap",
        "How far below log p(x) is the ELBO, and does IWAE close the gap?",
        pages.BOUND_GAP,
        "derivation",
        "log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)): the gap is exactly the KL from the encoder to "
        "the true posterior. On a linear VAE, whose log p(x) is exact, IWAE climbs from the "
        "ELBO to log p(x) as K grows.",
        "common",
    ),
    Question(
        "finite-range",
        "Pixels live in [0, 1] (or are 256 levels). Is a Gaussian or Huber density even allowed?",
        pages.DISCRETE,
        "modelling-choice",
        "Allowed, as a modelling choice with costs: mass outside [0, 1] and numbers that are "
        "densities, not probabilities. Compare models through the probability of each pixel's "
        "bin, or train on dequantised data (Theis et al. 2016).",
        "04-mse-bce-huber-as-elbo",
    ),
    Question(
        "negative-loss",
        "My VAE's loss is negative. Is that a bug?",
        pages.DISCRETE,
        "negative-loss",
        "No: a density can exceed 1 (a Gaussian with σ < 0.4 peaks above 1), so −log p(x|z) "
        "and the whole −ELBO can be negative. A discrete probability's −log is never negative.",
        "common",
    ),
    Question(
        "bits-per-dim",
        "How do I turn my loss into the bits/dim papers report?",
        pages.LOGGED,
        "converter",
        "Undo the reductions to get nats per image, restore dropped constants, add the KL with "
        "weight 1, add D·log(1/bin width) for a density, and divide by D·ln 2.",
        "common",
    ),
    Question(
        "logged-sum",
        "Why don't my logged recon and KL add up to the logged total?",
        pages.LOGGED,
        "add-up",
        "The total weights the KL by β, the recon is often a per-pixel mean while the KL is a "
        "per-image sum, and the recon may have dropped constants. The converter shows each.",
        "common",
    ),
    Question(
        "learned-sigma",
        "Can the decoder learn σ as well? What happens then?",
        pages.GAUSSIAN,
        "learned-sigma",
        "Yes; then D·log σ is no longer constant. The best shared σ² is the MSE, leaving the "
        "objective −D/2·log MSE (the 'calibrated decoder').",
        "common",
    ),
)


def by_key(key: str) -> Question | None:
    return next((q for q in QUESTIONS if q.key == key), None)
