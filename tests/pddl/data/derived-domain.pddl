; Blocks with derived predicates: clear is computed, above is the transitive closure of on.
(define (domain blocks-derived)
  (:requirements :strips :negative-preconditions :derived-predicates)
  (:predicates (on ?x ?y) (ontable ?x) (holding ?x) (handempty) (clear ?x) (above ?x ?y))
  (:derived (clear ?x) (and (not (holding ?x)) (not (exists (?y) (on ?y ?x)))))
  (:derived (above ?x ?y) (or (on ?x ?y) (exists (?z) (and (on ?x ?z) (above ?z ?y)))))
  (:action pick-up
    :parameters (?x)
    :precondition (and (clear ?x) (ontable ?x) (handempty))
    :effect (and (not (ontable ?x)) (not (handempty)) (holding ?x)))
  (:action put-down
    :parameters (?x)
    :precondition (holding ?x)
    :effect (and (not (holding ?x)) (handempty) (ontable ?x)))
  (:action stack
    :parameters (?x ?y)
    :precondition (and (holding ?x) (clear ?y) (not (above ?y ?x)))
    :effect (and (not (holding ?x)) (handempty) (on ?x ?y)))
  (:action unstack
    :parameters (?x ?y)
    :precondition (and (on ?x ?y) (clear ?x) (handempty))
    :effect (and (holding ?x) (not (handempty)) (not (on ?x ?y)))))
