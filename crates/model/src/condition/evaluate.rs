//! Deciding a condition with the engine's help: the engine renders templates (a calendar
//! condition's `date`, an Expression) and gives the facts of the execution; everything else
//! is decided here, as Kestra decides it.

use super::{BadDate, Condition, ExecutionFacts};

/// Why a condition could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum ConditionError<E> {
    /// Rendering a template failed.
    #[error("rendering the condition failed: {0}")]
    Render(E),
    #[error(transparent)]
    BadDate(#[from] BadDate),
    /// An execution condition was tested where there is no execution (a Schedule trigger).
    #[error("condition '{0}' tests an execution, and there is none here")]
    NoExecution(&'static str),
    /// A MultipleCondition is met by several executions over a time window: the engine keeps
    /// that history and decides it.
    #[error("MultipleCondition '{0}' is decided from past executions, not from one")]
    NeedsHistory(String),
}

/// Whether an Expression condition's rendered text counts as true: Kestra's Expression is
/// false only for blank text or `false` (surrounding spaces ignored).
pub fn expression_holds(rendered: &str) -> bool {
    let text = rendered.trim();
    !(text.is_empty() || text == "false")
}

impl Condition {
    /// Decides the condition. `facts` describe the execution it is tested on (`None` for a
    /// Schedule trigger); `render` renders a template in the trigger's context. A
    /// MultipleCondition is not decided here ([`ConditionError::NeedsHistory`]).
    pub fn test<E>(
        &self,
        facts: Option<&ExecutionFacts<'_>>,
        render: &mut dyn FnMut(&str) -> Result<String, E>,
    ) -> Result<bool, ConditionError<E>> {
        match self {
            Self::Expression { expression } => {
                let rendered = render(expression).map_err(ConditionError::Render)?;
                Ok(expression_holds(&rendered))
            }
            Self::Calendar(calendar) => {
                let rendered = render(&calendar.date).map_err(ConditionError::Render)?;
                Ok(calendar.holds_at(&rendered)?)
            }
            Self::Multiple(multiple) => Err(ConditionError::NeedsHistory(multiple.id.clone())),
            Self::Not(conditions) => {
                for condition in conditions {
                    if condition.test(facts, render)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Self::Or(conditions) => {
                for condition in conditions {
                    if condition.test(facts, render)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Self::ExecutionStatus { .. }
            | Self::ExecutionFlow { .. }
            | Self::ExecutionNamespace { .. } => {
                let facts = facts.ok_or(ConditionError::NoExecution(self.kind_name()))?;
                Ok(self.holds_for(facts).unwrap_or(false))
            }
        }
    }

    /// Kestra's short name of the condition's type (`ExecutionStatus`), for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::ExecutionStatus { .. } => "ExecutionStatus",
            Self::ExecutionFlow { .. } => "ExecutionFlow",
            Self::ExecutionNamespace { .. } => "ExecutionNamespace",
            Self::Expression { .. } => "Expression",
            Self::Multiple(_) => "MultipleCondition",
            Self::Calendar(c) => c.rule.kind_name(),
            Self::Not(_) => "Not",
            Self::Or(_) => "Or",
        }
    }
}

/// Whether every condition holds (none: true), deciding them in order and stopping at the
/// first that does not, as Kestra's `ConditionService.isValid` does.
pub fn all_hold<E>(
    conditions: &[Condition],
    facts: Option<&ExecutionFacts<'_>>,
    render: &mut dyn FnMut(&str) -> Result<String, E>,
) -> Result<bool, ConditionError<E>> {
    for condition in conditions {
        if !condition.test(facts, render)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{CalendarCondition, CalendarRule, MultipleCondition, TimeWindow};

    fn render_as_is(template: &str) -> Result<String, String> {
        Ok(template.to_owned())
    }

    #[test]
    fn expressions_are_false_only_when_blank_or_false() {
        for (text, holds) in [
            ("true", true),
            ("false", false),
            (" false ", false),
            ("", false),
            ("  ", false),
            ("0", true),
            ("no", true),
        ] {
            assert_eq!(expression_holds(text), holds, "{text:?}");
        }
    }

    #[test]
    fn conditions_are_decided_with_rendering_and_facts() {
        let weekend = Condition::Calendar(CalendarCondition {
            date: "2024-05-04".to_owned(),
            rule: CalendarRule::Weekend,
        });
        let expression = Condition::Expression {
            expression: "true".to_owned(),
        };
        let status = Condition::ExecutionStatus {
            in_states: vec!["FAILED".to_owned()],
            not_in: vec![],
        };
        let mut render = render_as_is;
        assert!(weekend.test(None, &mut render).expect("decided"));
        assert!(
            all_hold(&[weekend.clone(), expression.clone()], None, &mut render).expect("decided")
        );
        assert!(matches!(
            status.test(None, &mut render),
            Err(ConditionError::NoExecution("ExecutionStatus"))
        ));
        let facts = ExecutionFacts {
            namespace: "n",
            flow_id: "f",
            state: "SUCCESS",
        };
        assert!(!status.test(Some(&facts), &mut render).expect("decided"));
        assert!(
            !all_hold(&[status, weekend.clone()], Some(&facts), &mut render).expect("decided"),
            "stops at the first that fails"
        );

        let mut failing = |_: &str| Err::<String, _>("boom".to_owned());
        assert!(matches!(
            expression.test(None, &mut failing),
            Err(ConditionError::Render(e)) if e == "boom"
        ));
        let mut not_a_date = |_: &str| Ok::<_, String>("soon".to_owned());
        assert!(matches!(
            weekend.test(None, &mut not_a_date),
            Err(ConditionError::BadDate(_))
        ));
        let multiple = Condition::Multiple(MultipleCondition {
            id: "both".to_owned(),
            time_window: TimeWindow::default(),
            reset_on_success: true,
            conditions: Default::default(),
        });
        assert!(matches!(
            multiple.test(Some(&facts), &mut render),
            Err(ConditionError::NeedsHistory(id)) if id == "both"
        ));
    }

    #[test]
    fn not_holds_when_none_holds_and_or_when_one_does() {
        let weekend = Condition::Calendar(CalendarCondition {
            date: "2024-05-04".to_owned(),
            rule: CalendarRule::Weekend,
        });
        let failed = Condition::ExecutionStatus {
            in_states: vec!["FAILED".to_owned()],
            not_in: vec![],
        };
        let facts = ExecutionFacts {
            namespace: "n",
            flow_id: "f",
            state: "SUCCESS",
        };
        let mut render = render_as_is;
        let not_weekend = Condition::Not(vec![weekend.clone()]);
        assert!(!not_weekend.test(None, &mut render).expect("decided"));
        let not_failed = Condition::Not(vec![failed.clone()]);
        assert!(not_failed.test(Some(&facts), &mut render).expect("decided"));
        assert_eq!(not_failed.holds_for(&facts), Some(true));
        let either = Condition::Or(vec![failed.clone(), weekend.clone()]);
        assert!(either.test(Some(&facts), &mut render).expect("decided"));
        assert_eq!(either.holds_for(&facts), None, "the date needs rendering");
        let neither = Condition::Or(vec![failed, Condition::Not(vec![weekend])]);
        assert!(!neither.test(Some(&facts), &mut render).expect("decided"));
        assert_eq!(neither.kind_name(), "Or");
    }
}
