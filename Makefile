# The README's two commands. Both create or refresh .venv/ and install everything first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := out/demo

.PHONY: demo test setup llvm chromium clean

setup: $(STAMP) llvm

# torch first, pinned: on these machines that resolves to the local CPU wheel, while a bare
# `torch` requirement would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# Mitsuba's fast CPU backend (llvm_ad_rgb) needs libLLVM >= 17; without it we fall back to
# the much slower scalar_rgb variant.
llvm:
	@if dpkg -s libllvm19 >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian libllvm19 for Mitsuba's LLVM backend"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q libllvm19 >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libllvm19 >/dev/null; } || \
		echo "could not install libllvm19; Mitsuba will use the slower scalar_rgb variant"; \
	else \
		echo "note: libLLVM >= 17 not installed (needs root and apt); Mitsuba will use scalar_rgb"; \
	fi

# The service's browser test drives Debian's chromium through Playwright (no `playwright
# install`: nothing is downloaded at run time).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian chromium for the service's browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
		echo "could not install chromium; the browser test will fail and say why"; \
	else \
		echo "note: chromium not installed (needs root and apt); the browser test will fail"; \
	fi

# The product's job in miniature: render a test-split scene at 64 spp and a reference through
# the farm, denoise with the shipped model (and OIDN), write a side-by-side PNG and the PSNRs.
demo: setup
	$(BIN)/mcdenoise bench mc --scenes interior:9000 --spp 64 --reference-spp 2048 \
		--chunk-spp 1024 --width 256 --speed-size 0 --data $(DEMO)/data --json $(DEMO)/demo.json
	$(BIN)/mcdenoise denoise $(DEMO)/data/scenes/interior-9000/noisy_0.exr \
		-o $(DEMO)/interior_9000_denoised.exr --overwrite
	@echo "side by side: $(DEMO)/demo_sheet.png; PSNRs: $(DEMO)/demo.md"

test: setup chromium
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out
