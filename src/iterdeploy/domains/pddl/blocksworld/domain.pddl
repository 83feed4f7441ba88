; iterdeploy Blocksworld: one arm, four operators.
; Action names, predicates and arities follow the IPC-2023 learning-track file, so a plan is
; valid here exactly when it is valid there.
(define (domain blocksworld)
  (:requirements :strips)
  (:predicates
    (clear ?x) (on-table ?x) (arm-empty) (holding ?x) (on ?x ?y))

  ; take a clear block from the table
  (:action pickup
    :parameters (?ob)
    :precondition (and (clear ?ob) (on-table ?ob) (arm-empty))
    :effect (and (holding ?ob)
                 (not (clear ?ob)) (not (on-table ?ob)) (not (arm-empty))))

  ; put the held block on the table
  (:action putdown
    :parameters (?ob)
    :precondition (holding ?ob)
    :effect (and (clear ?ob) (arm-empty) (on-table ?ob)
                 (not (holding ?ob))))

  ; put the held block ?ob on the clear block ?underob
  (:action stack
    :parameters (?ob ?underob)
    :precondition (and (clear ?underob) (holding ?ob))
    :effect (and (arm-empty) (clear ?ob) (on ?ob ?underob)
                 (not (clear ?underob)) (not (holding ?ob))))

  ; lift the clear block ?ob off ?underob
  (:action unstack
    :parameters (?ob ?underob)
    :precondition (and (on ?ob ?underob) (clear ?ob) (arm-empty))
    :effect (and (holding ?ob) (clear ?underob)
                 (not (on ?ob ?underob)) (not (clear ?ob)) (not (arm-empty)))))
