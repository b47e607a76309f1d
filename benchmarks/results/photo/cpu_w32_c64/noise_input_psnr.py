# Input PSNR of the text (p = 0.25) and impulse (p = 0.7) test noise on the whole test sets:
#   .venv/bin/python benchmarks/results/photo/cpu_w32_c64/noise_input_psnr.py  (images: $MCDENOISE_IMAGES or ../shared/data/images)
import os, sys, time, numpy as np
from mcdenoise.bench.photo import noise as N
from mcdenoise.bench.photo.images import load_test_set, to_float, psnr8, test_noise_rng, TEST_SEED
root = os.environ.get("MCDENOISE_IMAGES", "../shared/data/images")  # from the repository root
for noise, p in (("text",0.25),("impulse",0.7)):
    means=[]
    for name in ("kodak24","bsd300","set14"):
        t=time.time(); vals=[]; cov=[]
        for stem,c in load_test_set(root,name):
            cf=to_float(c); rng=test_noise_rng(TEST_SEED,name,stem)
            if noise=="text":
                a,_=N.text_mask(cf.shape[:2],p,test_noise_rng(TEST_SEED,name,stem)); cov.append(((a>0).mean(), (a>=0.5).mean()))
            n,_=N.corrupt(noise,cf,p,rng); vals.append(psnr8(n,c))
        means.append(np.mean(vals))
        print(noise, name, len(vals), "mean %.2f min %.2f max %.2f"%(np.mean(vals),np.min(vals),np.max(vals)),
              ("coverage touched %.3f, alpha>=0.5 %.3f"%tuple(np.mean(cov,0))) if cov else "", "%.1fs"%(time.time()-t), flush=True)
    print(noise, "average of sets %.2f"%np.mean(means))
