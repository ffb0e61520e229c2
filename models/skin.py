"""Skin-colour model: P(skin | colour) from a Bayes ratio of two colour histograms, plus per-person adaptation.

Trained by `python -m models.training.skin` from the `skin` masks of the Clothing Co-Parsing dataset (see
models/skin/manifest.json for the data, photo ranges and validation scores).

Colour space: YCrCb, 8 luma x 64 x 64 chroma bins. Chroma (Cr, Cb) carries most of what separates skin from
clothing and is fairly stable under brightness changes; the coarse luma bins still let the model learn that
near-black and blown-out pixels are rarely skin. The negatives are the person's own non-skin pixels (clothes, hair,
shoes), not the background, so the model answers "is this pixel of the person bare skin?": mask it with the person
segmentation. At load time the bin-level likelihoods are interpolated (bilinearly, per luma bin) to every Cr, Cb
value, so neighbouring colours never fall off a bin-edge cliff, and a frame is looked up with one cv2.remap into that
table (no Python loop over pixels).
"""
from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np

DEFAULT_PATH = Path(__file__).resolve().with_name("skin") / "skin_model.npz"

Y_BINS, C_BINS = 8, 64  # histogram shape (Y, Cr, Cb) of the shipped model: a bin is Y >> 5, Cr >> 2, Cb >> 2
MIN_REFERENCE_PIXELS = 50
MAX_REFERENCE_PIXELS = 1000
PERSON_WEIGHT = 0.5  # share of the adapted skin likelihood that comes from the person's own colour model
CHROMA_FLOOR = 2.0  # std (Cr/Cb levels) added to the person's chroma spread: other body parts, other light
LUMA_FLOOR = 24.0  # minimum std (Y levels) of the person's luma factor: shading differs across the body

_KEYS = ("skin_likelihood", "nonskin_likelihood", "prior", "threshold", "adapted_threshold")
_V = np.arange(256)


def _shift(bins: int) -> int:
    """Right shift that turns an 8-bit value into one of `bins` (a power of two) equal bins."""
    if bins not in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        raise ValueError(f"bins must be a power of two <= 256, got {bins}")
    return 8 - int(np.log2(bins))


def bin_index(ycrcb: np.ndarray, y_bins: int = Y_BINS, c_bins: int = C_BINS) -> np.ndarray:
    """Flat histogram bin (0 .. y_bins*c_bins*c_bins - 1) of each YCrCb pixel."""
    q = ycrcb.astype(np.int32)
    ys, cs = _shift(y_bins), _shift(c_bins)
    return (q[..., 0] >> ys) * (c_bins * c_bins) + (q[..., 1] >> cs) * c_bins + (q[..., 2] >> cs)


def _upsample(hist: np.ndarray) -> np.ndarray:
    """(Y, C, C) per-bin mass -> (Y, 256, 256) mass per single Cr, Cb value, bilinear between bin centres."""
    fine = cv2.resize(np.ascontiguousarray(hist.transpose(1, 2, 0), dtype=np.float32), (256, 256),
                      interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    return np.ascontiguousarray(fine / fine.sum(), dtype=np.float32)


def _robust_gaussian(x: np.ndarray, h: float = 0.75, steps: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and covariance of 2-D points by MCD-style concentration steps (refit on the h closest), with the
    chi-square consistency factor so the covariance estimates the full spread. Also returns the inlier mask."""
    mu = np.median(x, axis=0)
    spread = 1.4826 * np.median(np.abs(x - mu), axis=0) + 1.0
    cov = np.diag(spread ** 2)
    keep = np.ones(len(x), bool)
    for _ in range(steps):
        d = x - mu
        d2 = ((d @ np.linalg.inv(cov)) * d).sum(axis=1)
        keep = d2 <= np.partition(d2, int(h * (len(d2) - 1)))[int(h * (len(d2) - 1))]
        inliers = x[keep]
        mu = inliers.mean(axis=0)
        d = inliers - mu
        cov = d.T @ d / max(len(d) - 1, 1) + 1e-3 * np.eye(2)
    q = -2.0 * np.log(1.0 - h)  # chi2(2 dof) quantile at h; chi2(4 dof) CDF in closed form below
    return mu, cov * h / (1.0 - np.exp(-q / 2) * (1.0 + q / 2)), keep


class SkinModel:
    """P(skin | colour) lookup over a (Y, Cr, Cb) histogram (shipped: 8 x 64 x 64, see manifest.json).

    skin_likelihood / nonskin_likelihood: P(colour bin | skin) and P(colour bin | other person pixel), smoothed,
    each summing to 1. prior: P(skin) among person pixels. threshold / adapted_threshold: the F1-best cut on the
    training photos for `probability` / `adapted_probability`.
    """

    def __init__(self, skin_likelihood: np.ndarray, nonskin_likelihood: np.ndarray, prior: float,
                 threshold: float = 0.5, adapted_threshold: float = 0.5) -> None:
        ls = np.asarray(skin_likelihood, np.float64)
        ln = np.asarray(nonskin_likelihood, np.float64)
        if ls.ndim != 3 or ls.shape != ln.shape or ls.shape[1] != ls.shape[2] or ls.shape[0] > 64:
            raise ValueError(f"likelihoods must both be (Y<=64, C, C), got {ls.shape} and {ln.shape}")
        self.y_bins, self.c_bins = ls.shape[:2]
        # luma value -> first row of its 256-row slice in the lookup image (and checks the bins are powers of two)
        self._y_to_row = ((_V >> _shift(self.y_bins)) * 256).astype(np.int16)
        _shift(self.c_bins)
        if not (np.all(ls > 0) and np.all(ln > 0) and np.isfinite(ls).all() and np.isfinite(ln).all()):
            raise ValueError("likelihoods must be finite and > 0 (smoothed)")
        if not 0.0 < prior < 1.0:
            raise ValueError(f"prior must be in (0, 1), got {prior}")
        self.skin_likelihood = (ls / ls.sum()).astype(np.float32)
        self.nonskin_likelihood = (ln / ln.sum()).astype(np.float32)
        self.prior = float(prior)
        self.threshold = float(threshold)
        self.adapted_threshold = float(adapted_threshold)
        # prior-weighted likelihoods per single (Y bin, Cr, Cb) value, and the generic posterior as a lookup image
        self._skin_fine = (self.prior * _upsample(self.skin_likelihood)).astype(np.float32)
        self._other_fine = ((1.0 - self.prior) * _upsample(self.nonskin_likelihood)).astype(np.float32)
        self._skin_fine_kept = (1.0 - PERSON_WEIGHT) * self._skin_fine  # generic share of the adapted likelihood
        self._lut = self._posterior(self._skin_fine)
        self._local = threading.local()  # per-thread work arrays, see _scratch

    # ---------------------------------------------------------------- files
    @classmethod
    def load(cls, path: str | Path | None = None) -> "SkinModel":
        path = Path(path) if path is not None else DEFAULT_PATH
        if not path.is_file():
            raise FileNotFoundError(f"skin model file not found: {path} (train it with python -m models.training.skin)")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in _KEYS if k not in z.files]
                if missing:
                    raise ValueError(f"missing arrays {missing}")
                arrays = {k: z[k] for k in _KEYS}
            return cls(arrays["skin_likelihood"], arrays["nonskin_likelihood"], float(arrays["prior"]),
                       float(arrays["threshold"]), float(arrays["adapted_threshold"]))
        except Exception as e:  # bad zip, truncated array, wrong shapes ...
            raise ValueError(f"corrupt skin model file {path}: {e}") from e

    def save(self, path: str | Path) -> None:
        """Write an .npz that np.load reads; fixed zip timestamps so the same model always has the same sha256."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"skin_likelihood": self.skin_likelihood, "nonskin_likelihood": self.nonskin_likelihood,
                  "prior": np.float64(self.prior), "threshold": np.float64(self.threshold),
                  "adapted_threshold": np.float64(self.adapted_threshold)}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, arr in arrays.items():
                with zf.open(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), "w") as f:
                    np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)

    # ---------------------------------------------------------------- inference
    def _posterior(self, skin_fine: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Bayes posterior per (Y bin, Cr, Cb) as a (Ybins*256, 256) float32 lookup image (row = Ybin*256 + Cr)."""
        den = np.add(skin_fine, self._other_fine, out=out)
        return np.divide(skin_fine, den, out=den).reshape(self.y_bins * 256, 256)

    def _scratch(self, h: int, w: int) -> tuple:
        """Work arrays for one frame size, kept per thread and reused: allocating ~13 MB of fresh arrays per 1280x720
        frame cost more than the arithmetic here (page faults: ~9 ms a frame instead of ~3.6 ms)."""
        s = getattr(self._local, "frame", None)
        if s is None or s[0].shape[:2] != (h, w):
            s = (np.empty((h, w, 3), np.uint8), [np.empty((h, w), np.uint8) for _ in range(3)],
                 np.empty((h, w), np.int16), np.empty((h, w), np.int16), np.empty((h, w, 2), np.int16))
            self._local.frame = s
        return s

    def _lookup(self, image_bgr: np.ndarray, lut: np.ndarray) -> np.ndarray:
        image_bgr = np.asarray(image_bgr)
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8 BGR, got {image_bgr.shape} {image_bgr.dtype}")
        h, w = image_bgr.shape[:2]
        if h == 0 or w == 0:
            return np.zeros((h, w), np.float32)
        ycc, channels, row, cb16, xy = self._scratch(h, w)
        ycc = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_BGR2YCrCb, dst=ycc)
        y, cr, cb = cv2.split(ycc, channels)
        # integer (x, y) map into the lookup image: x = Cb, y = Ybin*256 + Cr; nearest = a pure table lookup
        row = cv2.LUT(y, self._y_to_row, dst=row)
        row += cr
        np.copyto(cb16, cb)
        return cv2.remap(lut, cv2.merge([cb16, row], dst=xy), None, cv2.INTER_NEAREST)  # a new array each call

    def probability(self, image_bgr: np.ndarray) -> np.ndarray:
        """(H, W) float32 P(skin | colour) in [0, 1] for a BGR uint8 image (generic, population-wide model)."""
        return self._lookup(image_bgr, self._lut)

    def _adapted_lut(self, reference_pixels_bgr: np.ndarray | None) -> np.ndarray | None:
        """The lookup image adapted to these skin pixels (in this thread's work array, valid until the next call),
        or None when there are too few of them."""
        if reference_pixels_bgr is None:
            return None
        ref = np.asarray(reference_pixels_bgr)
        if ref.dtype != np.uint8 or ref.ndim == 0 or ref.shape[-1] != 3:
            raise ValueError(f"reference pixels must be (N, 3) uint8 BGR, got {ref.shape} {ref.dtype}")
        ref = ref.reshape(-1, 3)
        if len(ref) < MIN_REFERENCE_PIXELS:
            return None
        ref = ref[:: max(1, len(ref) // MAX_REFERENCE_PIXELS)]  # an even subsample is plenty for 5 numbers
        ycc = cv2.cvtColor(ref.reshape(-1, 1, 3), cv2.COLOR_BGR2YCrCb).reshape(-1, 3).astype(np.float64)
        mu, cov, keep = _robust_gaussian(ycc[:, 1:])
        cov = cov + CHROMA_FLOOR ** 2 * np.eye(2)
        # this person's skin: a Gaussian in (Cr, Cb) x a broad Gaussian in Y, as mass per (Y bin, Cr, Cb) value
        dcr, dcb = (_V[None] - mu[:, None]).astype(np.float32)  # offsets of every Cr and every Cb value
        (a, b), (_, c) = np.linalg.inv(cov).astype(np.float32)
        chroma = np.exp(-0.5 * ((a * dcr * dcr)[:, None] + (2 * b * dcr)[:, None] * dcb[None] + (c * dcb * dcb)[None]))
        chroma /= chroma.sum()
        y_ref = ycc[keep, 0]
        y_mu = np.median(y_ref)
        y_sd = max(LUMA_FLOOR, 2.0 * 1.4826 * np.median(np.abs(y_ref - y_mu)))
        width = 256 / self.y_bins
        luma = np.exp(-0.5 * ((np.arange(self.y_bins) * width + (width - 1) / 2 - y_mu) / y_sd) ** 2)
        luma /= luma.sum()
        # Combination: Bayes with the same prior and the same non-skin likelihood, but the skin likelihood replaced
        # by a mixture  w * P(colour | this person's skin) + (1 - w) * P(colour | anyone's skin).  Colours of this
        # person's skin rise even where the population model had little mass (very pale/dark skin, tinted light),
        # while colours that are common on clothing stay low because the non-skin likelihood is untouched.
        if getattr(self._local, "table", None) is None:
            self._local.table = (np.empty_like(self._skin_fine), np.empty_like(self._skin_fine))
        skin, den = self._local.table
        np.multiply(chroma[None], (self.prior * PERSON_WEIGHT * luma).astype(np.float32)[:, None, None], out=skin)
        skin += self._skin_fine_kept
        return self._posterior(skin, out=den)

    def adapted_probability(self, image_bgr: np.ndarray, reference_pixels_bgr: np.ndarray | None) -> np.ndarray:
        """Like `probability`, adapted to this person's skin colour given (N, 3) uint8 BGR pixels known to be their
        skin (e.g. cheeks in the face box). Falls back to the generic map with None or < 50 pixels."""
        lut = self._adapted_lut(reference_pixels_bgr)
        return self._lookup(image_bgr, self._lut if lut is None else lut)
