//! Exports, target exports and inputs written to temporary directories, so the tasks' unit
//! tests read files exactly as a run does.

use tempfile::TempDir;

use crate::context::{Context, Options};
use crate::credentials::Credentials;
use crate::error::TransformError;
use crate::export::Export;
use crate::inputs::Inputs;
use crate::plan::{Draft, Refs, TaskOutput};
use crate::tasks::Plan;

pub struct Fixture {
    export: Export,
    target: Option<Export>,
    inputs: Inputs,
    options: Options,
    credentials: Option<Credentials>,
    // Kept so the files stay readable (verbatim bodies are read when planned).
    _dirs: Vec<TempDir>,
}

fn write(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(&path, text).expect("write fixture file");
    }
    dir
}

impl Fixture {
    /// An export made of these files (name, content).
    pub fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = write(files);
        Fixture {
            export: Export::load(dir.path(), false).expect("fixture export loads"),
            target: None,
            inputs: Inputs::default(),
            options: Options::default(),
            credentials: None,
            _dirs: vec![dir],
        }
    }

    /// The target subscription's own export.
    pub fn target(mut self, files: &[(&str, &str)]) -> Fixture {
        let dir = write(files);
        self.target = Some(Export::load_target(dir.path()).expect("fixture target export loads"));
        self._dirs.push(dir);
        self
    }

    /// Mapping tables of `--inputs`.
    pub fn inputs(mut self, files: &[(&str, &str)]) -> Fixture {
        let dir = write(files);
        self.inputs = Inputs::load(Some(dir.path())).expect("fixture inputs load");
        self._dirs.push(dir);
        self
    }

    /// The operator's credentials file, as its plaintext CSV.
    pub fn credentials(mut self, csv: &str) -> Fixture {
        self.credentials = Some(Credentials::from_plaintext(csv.as_bytes()));
        self
    }

    pub fn options(mut self, change: impl FnOnce(&mut Options)) -> Fixture {
        change(&mut self.options);
        self
    }

    /// Runs tasks in order, sharing references as a run does.
    pub fn run(&self, plans: &[Plan]) -> Result<(Vec<TaskOutput>, Refs), TransformError> {
        let ctx = Context {
            export: &self.export,
            target: self.target.as_ref(),
            inputs: &self.inputs,
            options: &self.options,
            credentials: self.credentials.as_ref(),
        };
        let mut refs = Refs::default();
        let outputs = plans.iter().map(|plan| plan(&ctx, &mut refs)).collect::<Result<Vec<_>, _>>()?;
        Ok((outputs, refs))
    }

    /// The output of the last of `plans`, after the others ran before it.
    pub fn try_plan_after(&self, before: &[Plan], plan: Plan) -> Result<TaskOutput, TransformError> {
        let mut plans = before.to_vec();
        plans.push(plan);
        let (mut outputs, _) = self.run(&plans)?;
        Ok(outputs.pop().expect("the task ran"))
    }

    pub fn try_plan(&self, plan: Plan) -> Result<TaskOutput, TransformError> {
        self.try_plan_after(&[], plan)
    }

    pub fn plan(&self, plan: Plan) -> TaskOutput {
        self.try_plan(plan).expect("the task plans")
    }
}

/// A draft's parameter as the review shows it (captures as placeholders).
pub fn param(draft: &Draft, name: &str) -> Option<String> {
    draft.params.iter().find(|p| p.name == name).map(|p| p.value.display())
}
